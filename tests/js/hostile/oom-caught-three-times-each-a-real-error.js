// expect: Done
// result: 3
// why: runs out of memory three times in a row, each time catching and checking the thrown value.
// A caught out-of-memory error is a real InternalError (or null, when not even that could be allocated).
const isOutOfMemory = (e) => e === null || (e instanceof Error && Object.is(e, e) && e.message === 'out of memory');
let real = 0;
for (let round = 0; round < 3; round++) {
  try { (() => { const o = {}; for (let i = 0; ; i++) o['r' + round + '_' + i] = 'v'.repeat(2048); })(); } catch (e) { if (isOutOfMemory(e)) real++; }
}
real;
