// expect: StackOverflow
// discarded: no
// why: eval of 20000 nested function declarations: each level is a new function scope in the compiler.
eval('function f() {'.repeat(2e4) + '}'.repeat(2e4));
