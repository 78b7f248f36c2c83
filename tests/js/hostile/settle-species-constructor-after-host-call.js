// expect: Timeout
// caps: echo
// why: the promise of a host call is given a constructor whose Symbol.species loops; `then` on it runs the species lookup after the call settled.
const call = echo(1);
await call;
call.constructor = { get [Symbol.species]() { for (;;) {} } };
await call.then((v) => v);
