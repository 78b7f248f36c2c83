// expect: StackOverflow
// discarded: no
// name: RangeError
// why: two hundred thousand proxies, each the target of the next and without traps: the defineproperty operation forwards in C down the chain.
{
  let proxy = {};
  for (let i = 0; i < 2e5; i++) proxy = new Proxy(proxy, {});
  Object.defineProperty(proxy, 'x', { value: 1 });
}
