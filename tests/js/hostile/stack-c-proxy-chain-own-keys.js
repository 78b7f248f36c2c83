// expect: StackOverflow
// discarded: no
// why: Object.keys through 200000 trapless proxies: [[OwnPropertyKeys]] and [[GetOwnProperty]] forward through every one in C.
let chain = { a: 1 };
for (let i = 0; i < 2e5; i++) chain = new Proxy(chain, {});
Object.keys(chain);
