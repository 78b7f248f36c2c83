// expect: Done
// result: true
// why: builds a chain of closures, each capturing the previous one, and inspects what catch receives.
// A caught out-of-memory error is a real InternalError (or null, when not even that could be allocated).
const isOutOfMemory = (e) => e === null || (e instanceof Error && Object.is(e, e) && e.message === 'out of memory');
let caught;
try { (() => { let f = null; for (;;) { const g = f; f = () => g; } })(); } catch (e) { caught = e; }
isOutOfMemory(caught);
