// expect: Done
// result: 'logged'
// console: [Array]
// why: console.log of arrays nested 100000 deep: inspect stops at its depth limit instead of recursing.
let nested = [];
for (let i = 0; i < 1e5; i++) nested = [nested];
console.log(nested);
'logged';
