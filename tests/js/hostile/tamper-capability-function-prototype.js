// expect: Done
// result: 5
// caps: echoSync
// why: Function.prototype.call and apply poisoned before calling a host function; the capability is called directly by the engine.
Function.prototype.call = Function.prototype.apply = function () { throw new Error('poisoned'); };
globalThis.tampered = true;
echoSync(5);
