// expect: Done
// result: 3
// console: { step: 2, ok: true }
// why: a few console lines of ordinary size.
for (let step = 0; step < 3; step++) console.log({ step, ok: true });
3;
