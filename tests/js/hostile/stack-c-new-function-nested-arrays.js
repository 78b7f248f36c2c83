// expect: StackOverflow
// discarded: no
// why: new Function compiles 100000 nested array literals; the same parser recursion reached through the Function constructor.
new Function('return ' + '['.repeat(1e5) + ']'.repeat(1e5))();
