// expect: Done
// result: true
// why: grows a Map with string keys until the heap is full and inspects what catch receives.
// A caught out-of-memory error is a real InternalError (or null, when not even that could be allocated).
const isOutOfMemory = (e) => e === null || (e instanceof Error && Object.is(e, e) && e.message === 'out of memory');
let caught;
try { (() => { const m = new Map(); for (let i = 0; ; i++) m.set('k' + i, {}); })(); } catch (e) { caught = e; }
isOutOfMemory(caught);
