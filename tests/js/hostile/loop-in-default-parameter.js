// expect: Timeout
// why: the loop hides in a default parameter value, evaluated at call time.
function f(value = (() => { for (;;) {} })()) { return value; }
f();
