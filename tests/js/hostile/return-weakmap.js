// expect: JSException
// name: TypeError
// message: weak collection
// why: a WeakMap cannot cross the boundary.
new WeakMap();
