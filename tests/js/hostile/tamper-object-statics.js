// expect: Done
// result: { a: 1, b: [ 2 ] }
// why: Object.keys, entries, defineProperty and getOwnPropertyNames replaced; the encoder walks objects with the engine's own functions.
const poisoned = function () { throw new Error('poisoned Object static'); };
Object.keys = Object.entries = Object.defineProperty = Object.getOwnPropertyNames = poisoned;
globalThis.tampered = true;
({ a: 1, b: [2] });
