// expect: JSException
// name: Error
// message: pending calls
// caps: hang
// why: 2000 host calls nobody answers, each with a tiny argument: the calls beyond the per-evaluation cap on pending calls fail in JS.
const calls = [];
for (let i = 0; i < 2000; i++) calls.push(hang(i));
await Promise.all(calls);
