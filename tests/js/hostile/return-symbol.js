// expect: JSException
// name: TypeError
// message: Symbol
// why: symbols never leave the sandbox.
Symbol('secret');
