// expect: Done
// result: true
// caps: hang
// why: the refusal of a call beyond the host memory budget is an ordinary, catchable Error that names the budget.
const argument = 'd'.repeat(4 << 20);
let refusal;
for (let i = 0; i < 40; i++) hang(argument).catch((e) => { refusal ??= e; });
await null;
await null;
refusal instanceof Error && refusal.message.includes('host memory budget');
