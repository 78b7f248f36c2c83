// expect: Timeout
// why: Array.from drives an iterator whose next() never returns.
Array.from({ [Symbol.iterator]() { return { next() { for (;;) {} } }; } });
