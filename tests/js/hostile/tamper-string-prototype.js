// expect: Done
// result: 'abc'
// console: abc
// why: String.prototype.toString, valueOf and its iterator replaced with throwing functions.
const poisoned = function () { throw new Error('poisoned String.prototype'); };
String.prototype.toString = poisoned;
String.prototype.valueOf = poisoned;
String.prototype[Symbol.iterator] = poisoned;
globalThis.tampered = true;
console.log('abc');
'abc';
