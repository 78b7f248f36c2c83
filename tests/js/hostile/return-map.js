// expect: JSException
// name: TypeError
// message: Map
// why: a Map is not data the boundary carries; refused with a TypeError naming it, not half-encoded.
new Map([[1, 2]]);
