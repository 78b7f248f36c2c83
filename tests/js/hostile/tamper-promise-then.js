// expect: Done
// result: 5
// why: poisons Promise.prototype.then; await uses the engine's internal reaction, so awaiting a native promise still works.
Promise.prototype.then = function () { throw new Error('poisoned then'); };
globalThis.tampered = true;
await Promise.resolve(5);
