// expect: StackOverflow
// why: an object nested 100000 levels deep, built iteratively (no recursion in JS), then stringified; QuickJS's JSON.stringify recurses in C and reports "Maximum call stack size exceeded" (a RangeError), which uncaught is a StackOverflow.
let nested = {};
for (let i = 0; i < 1e5; i++) nested = { nested };
JSON.stringify(nested).length;
