// expect: StackOverflow
// discarded: no
// why: the `in` operator through a chain of 200000 trapless proxies, another forwarding path in C.
let chain = {};
for (let i = 0; i < 2e5; i++) chain = new Proxy(chain, {});
'anything' in chain;
