// expect: StackOverflow
// discarded: no
// why: calling through 200000 trapless proxies wrapped around a function: [[Call]] forwards through every one in C.
let chain = function () { return 1; };
for (let i = 0; i < 2e5; i++) chain = new Proxy(chain, {});
chain();
