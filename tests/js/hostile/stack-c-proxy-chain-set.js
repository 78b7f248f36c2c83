// expect: StackOverflow
// discarded: no
// why: an assignment through 200000 trapless proxies, each the target of the next: [[Set]] forwards through every one in C.
let chain = {};
for (let i = 0; i < 2e5; i++) chain = new Proxy(chain, {});
chain.anything = 1;
