// expect: JSException
// name: RangeError
// message: nests deeper
// why: objects (not arrays) nested 1000 levels deep, beyond Limits::max_depth.
let nested = {};
for (let i = 0; i < 1000; i++) nested = { nested };
nested;
