// expect: Timeout
// why: a timer's callback spins for ever; it runs under the evaluation's CPU budget like any other code.
setTimeout(() => { for (;;); }, 1);
await new Promise(() => {});
