// expect: Done
// result: { a: 1 }
// why: every Reflect function replaced with a throwing one.
for (const key of Object.getOwnPropertyNames(Reflect)) Reflect[key] = function () { throw new Error('poisoned Reflect'); };
globalThis.tampered = true;
({ a: 1 });
