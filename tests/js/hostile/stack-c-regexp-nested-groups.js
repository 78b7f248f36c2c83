// expect: StackOverflow
// discarded: no
// name: RangeError
// why: a regular expression with lookaheads nested fifty thousand deep; the regexp compiler recurses in C.
new RegExp('(?='.repeat(5e4) + 'a' + ')'.repeat(5e4));
