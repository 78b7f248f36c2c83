// expect: StackOverflow
// discarded: no
// name: RangeError
// why: two hundred thousand function proxies, each wrapping the next: new forwards in C down the chain.
{
  let proxy = function () {};
  for (let i = 0; i < 2e5; i++) proxy = new Proxy(proxy, {});
  new proxy();
}
