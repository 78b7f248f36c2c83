// expect: StackOverflow
// discarded: no
// why: flat(Infinity) on arrays nested 200000 deep recurses in C once per level.
let nested = [1];
for (let i = 0; i < 2e5; i++) nested = [nested];
nested.flat(Infinity).length;
