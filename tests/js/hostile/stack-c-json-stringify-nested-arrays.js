// expect: StackOverflow
// discarded: no
// why: arrays nested 200000 deep, built without recursion, then stringified: JSON.stringify recurses in C.
let nested = [];
for (let i = 0; i < 2e5; i++) nested = [nested];
JSON.stringify(nested).length;
