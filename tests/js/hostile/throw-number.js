// expect: JSException
// name:
// message: 42
// thrown: 42
// why: throwing a number instead of an Error: there is no name and no stack, the value itself is handed back.
throw 42;
