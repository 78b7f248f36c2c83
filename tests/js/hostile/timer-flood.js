// expect: JSException
// name: RangeError
// message: too many timers
// limit: 10000
// why: creates timers without end; the cap on pending timers refuses them with a catchable RangeError before they fill the heap.
for (;;) setTimeout(() => {}, 1e9);
