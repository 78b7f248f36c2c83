// expect: StackOverflow
// discarded: no
// why: a prototype chain made of 50000 proxies: looking up a missing property walks it recursively in C.
let proto = {};
for (let i = 0; i < 5e4; i++) proto = new Proxy(Object.create(proto), {});
Object.create(proto).missing;
