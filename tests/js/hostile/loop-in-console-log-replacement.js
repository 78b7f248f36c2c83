// expect: Timeout
// why: console.log replaced by a function that never returns; the program's own console is its own business, the budget still holds.
console.log = function () { for (;;) {} };
globalThis.tampered = true;
console.log('hello');
