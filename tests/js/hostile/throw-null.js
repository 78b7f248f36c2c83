// expect: JSException
// name:
// message: null
// thrown: null
// why: throwing null, which has no properties at all to read a name or message from.
throw null;
