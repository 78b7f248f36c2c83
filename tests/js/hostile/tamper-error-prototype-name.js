// expect: JSException
// message: plain failure
// why: Error.prototype.name made a throwing getter; reporting an uncaught Error must still give its message.
Object.defineProperty(Error.prototype, 'name', { get() { throw new Error('poisoned name'); } });
globalThis.tampered = true;
throw new Error('plain failure');
