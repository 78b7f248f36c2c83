// expect: JSException
// name: TypeError
// message: cyclic
// why: a result that refers to itself cannot be encoded for the host.
const cyclic = { name: 'loop' };
cyclic.self = cyclic;
cyclic;
