// expect: Done
// result: 1180591620717411303424n
// why: replaces BigInt.prototype.toString; the result encoder must not use the guest-visible method to serialise a BigInt.
BigInt.prototype.toString = function () { return 'zz'; };
globalThis.tampered = true;
2n ** 70n;
