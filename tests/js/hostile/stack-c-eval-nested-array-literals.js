// expect: StackOverflow
// discarded: no
// why: eval of 100000 nested array literals.
eval('['.repeat(1e5) + ']'.repeat(1e5));
