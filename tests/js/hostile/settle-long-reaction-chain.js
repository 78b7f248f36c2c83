// expect: Timeout
// caps: echo
// why: 100000 reactions chained on one host call, each doing some work; they all run after the host settles the call.
let chain = echo(1);
for (let i = 0; i < 100000; i++) {
  chain = chain.then((v) => {
    for (let j = 0; j < 10000; j++) v ^= j;
    return v;
  });
}
await chain;
