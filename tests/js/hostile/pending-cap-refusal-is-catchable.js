// expect: Done
// result: true
// caps: hang
// why: the refusal of a call beyond the pending-call cap is an ordinary, catchable Error that names the cap; the calls left pending are cancelled when the evaluation ends.
let refusal;
for (let i = 0; i < 1100; i++) hang(i).catch((e) => { refusal ??= e; });
await null;
await null;
refusal instanceof Error && refusal.message.includes('pending calls');
