// expect: StackOverflow
// discarded: no
// why: eval of 100000 nested parentheses: the parser recurses in C for every level.
eval('('.repeat(1e5) + '1' + ')'.repeat(1e5));
