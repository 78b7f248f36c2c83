// expect: Done
// result: [ 1, 2 ]
// console: [ 1, 2 ]
// why: poisons Array.prototype.push/join/map and the array iterator; console.log and the result encoder must not depend on them.
const poisoned = function () { throw new Error('poisoned Array.prototype'); };
Array.prototype.push = poisoned;
Array.prototype.join = poisoned;
Array.prototype.map = poisoned;
Array.prototype[Symbol.iterator] = poisoned;
globalThis.tampered = true;
console.log([1, 2]);
[1, 2];
