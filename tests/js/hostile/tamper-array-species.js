// expect: Done
// result: [ 1, 2 ]
// why: a throwing Symbol.species getter on Array; the encoder copies nothing through species.
Object.defineProperty(Array, Symbol.species, { get() { throw new Error('poisoned species'); } });
globalThis.tampered = true;
[1, 2];
