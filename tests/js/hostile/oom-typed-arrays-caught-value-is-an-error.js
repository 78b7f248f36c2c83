// expect: Done
// result: true
// why: allocates typed arrays until the heap is full and inspects what catch receives.
// A caught out-of-memory error is a real InternalError (or null, when not even that could be allocated).
const isOutOfMemory = (e) => e === null || (e instanceof Error && Object.is(e, e) && e.message === 'out of memory');
let caught;
try { (() => { const keep = []; for (;;) keep.push(new Float64Array(1e5)); })(); } catch (e) { caught = e; }
isOutOfMemory(caught);
