// expect: Done
// result: 100000
// why: building a string piece by piece, as a report generator would.
const parts = [];
for (let i = 0; i < 20000; i++) parts.push('line' + (i % 10));
parts.join('').length;
