// expect: Done
// result: true
// why: appends 8 KB pieces to a string until the heap is full and inspects what catch receives.
// A caught out-of-memory error is a real InternalError (or null, when not even that could be allocated).
const isOutOfMemory = (e) => e === null || (e instanceof Error && Object.is(e, e) && e.message === 'out of memory');
let caught;
try { (() => { let s = ''; for (let i = 0; ; i++) s += 'abcdefgh'.repeat(1000) + i; })(); } catch (e) { caught = e; }
isOutOfMemory(caught);
