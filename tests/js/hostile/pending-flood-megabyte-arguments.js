// expect: JSException
// name: Error
// message: host memory budget
// caps: hang
// why: pending calls holding 1 MB arguments each (1500 of them drove the CLI to 4.4 GB RSS); 300 of them are five times the default host memory budget, which must refuse calls before the host holds them all.
const argument = 'a'.repeat(1e6);
const calls = [];
for (let i = 0; i < 300; i++) calls.push(hang(argument));
await Promise.all(calls);
