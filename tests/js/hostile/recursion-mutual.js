// expect: StackOverflow
// why: two functions calling each other without end.
function ping(n) { return pong(n + 1) + 1; }
function pong(n) { return ping(n + 1) + 1; }
ping(0);
