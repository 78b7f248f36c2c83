// expect: Done
// result: 6765
// why: plain recursion and arithmetic.
function fib(n) { return n < 2 ? n : fib(n - 1) + fib(n - 2); }
fib(20);
