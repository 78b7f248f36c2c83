// expect: JSException
// name: RangeError
// message: nests deeper
// why: a result nested 1000 levels deep, beyond Limits::max_depth (256).
let nested = [];
for (let i = 0; i < 1000; i++) nested = [nested];
nested;
