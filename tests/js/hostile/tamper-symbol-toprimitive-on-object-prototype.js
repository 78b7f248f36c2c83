// expect: Done
// result: { a: 1 }
// console: { a: 1 }
// why: a throwing Symbol.toPrimitive on Object.prototype; console.log and the result encoder never convert objects to primitives.
Object.prototype[Symbol.toPrimitive] = function () { throw new Error('poisoned toPrimitive'); };
globalThis.tampered = true;
console.log({ a: 1 });
({ a: 1 });
