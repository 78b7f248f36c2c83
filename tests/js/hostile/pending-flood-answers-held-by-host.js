// expect: JSException
// name: Error
// message: host memory budget
// caps: echo
// why: the host answers every call at once, but the answers wait in host memory until the program yields; 200 answers of 1 MB must still fit the host memory budget or be refused.
const argument = 'c'.repeat(1e6);
const calls = [];
for (let i = 0; i < 200; i++) calls.push(echo(argument));
await Promise.all(calls);
