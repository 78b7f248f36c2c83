// expect: JSException
// name: Error
// message: host memory budget
// caps: hang
// why: 40 pending calls of 8 MiB each (320 MiB if all were kept): few enough that only the host memory budget, not the pending-call cap, can stop them.
const argument = 'b'.repeat(8 << 20);
const calls = [];
for (let i = 0; i < 40; i++) calls.push(hang(argument));
await Promise.all(calls);
