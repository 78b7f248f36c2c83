// expect: Done
// result: 1.5
// console: 1.5
// why: Number.prototype.toString and toFixed replaced; console.log must still print numbers and the result cross as a number.
Number.prototype.toString = Number.prototype.toFixed = function () { throw new Error('poisoned Number.prototype'); };
globalThis.tampered = true;
console.log(1.5);
1.5;
