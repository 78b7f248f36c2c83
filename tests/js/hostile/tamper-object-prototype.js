// expect: Done
// result: { a: 1 }
// console: { a: 1 }
// why: poisons Object.prototype (toString, hasOwnProperty, an enumerable extra key); console.log and the result encoder must not use any of them, and the next sandbox must see pristine intrinsics.
Object.prototype.toString = function () { throw new Error('poisoned toString'); };
Object.prototype.hasOwnProperty = function () { throw new Error('poisoned hasOwnProperty'); };
Object.prototype.injected = 'from the prototype';
globalThis.tampered = true;
console.log({ a: 1 });
({ a: 1 });
