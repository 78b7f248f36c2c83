// expect: StackOverflow
// discarded: no
// why: 200000 proxies, each the target of the next, without traps: a property read forwards through every one in C.
let chain = {};
for (let i = 0; i < 2e5; i++) chain = new Proxy(chain, {});
chain.anything;
