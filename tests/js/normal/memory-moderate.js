// expect: Done
// result: 1000000
// why: a few megabytes of arrays and strings, well inside the memory limit.
const rows = [];
for (let i = 0; i < 1000; i++) rows.push(new Array(1000).fill(i));
rows.reduce((n, row) => n + row.length, 0);
