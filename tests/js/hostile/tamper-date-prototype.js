// expect: Done
// result: '1970-01-01T00:00:00.000Z'
// why: Date.prototype.toISOString and toJSON replaced; a Date result is converted with the intrinsic, not the program's method.
Date.prototype.toISOString = Date.prototype.toJSON = function () { throw new Error('poisoned Date.prototype'); };
globalThis.tampered = true;
new Date(0);
