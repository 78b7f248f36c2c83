// expect: JSException
// name: Error
// message: custom stack
// why: Error.prepareStackTrace makes `stack` an object instead of a string; the report must not depend on its type.
Error.prepareStackTrace = () => ({ not: 'a string' });
globalThis.tampered = true;
throw new Error('custom stack');
