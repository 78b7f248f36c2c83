// expect: StackOverflow
// discarded: no
// why: String() of arrays nested 200000 deep: join and toString call each other in C.
let nested = [];
for (let i = 0; i < 2e5; i++) nested = [nested];
String(nested).length;
