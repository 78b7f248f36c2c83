// expect: Done
// result: [ 1, 4, 9, 16, 25 ]
// why: a finite generator pipeline.
function* squares(n) { for (let i = 1; i <= n; i++) yield i * i; }
[...squares(5)];
