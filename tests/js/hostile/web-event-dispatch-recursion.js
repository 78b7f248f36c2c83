// expect: StackOverflow
// discarded: no
// why: a listener that dispatches a new event to its own target recurses without end; the JS stack limit stops it, and the RangeError, reported after the dispatch as listener errors are, ends the evaluation.
const target = new EventTarget();
target.addEventListener('x', () => { target.dispatchEvent(new Event('x')); });
target.dispatchEvent(new Event('x'));
await null;
