// expect: Done
// result: 'ok'
// console: a [ 1 ]
// why: poisons Function.prototype.call/apply/bind/toString; console.log was built from captured intrinsics and must keep working.
const poisoned = function () { throw new Error('poisoned Function.prototype'); };
Function.prototype.call = poisoned;
Function.prototype.apply = poisoned;
Function.prototype.bind = poisoned;
Function.prototype.toString = poisoned;
globalThis.tampered = true;
console.log('a', [1]);
'ok';
