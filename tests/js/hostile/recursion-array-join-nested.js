// expect: StackOverflow
// why: arrays nested 100000 deep converted to a string: Array.prototype.join recursing through toString.
let nested = [];
for (let i = 0; i < 1e5; i++) nested = [nested];
String(nested);
