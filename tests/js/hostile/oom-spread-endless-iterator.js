// expect: OutOfMemory
// why: spreading an iterator that never ends: the engine keeps appending to the array it builds.
[...{ [Symbol.iterator]() { return { next: () => ({ done: false, value: 1 }) }; } }].length;
