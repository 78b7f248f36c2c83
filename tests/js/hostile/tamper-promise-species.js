// expect: Done
// result: 3
// why: a throwing Symbol.species getter on Promise; awaiting a native promise does not consult it.
Object.defineProperty(Promise, Symbol.species, { get() { throw new Error('poisoned species'); } });
globalThis.tampered = true;
await Promise.resolve(3);
