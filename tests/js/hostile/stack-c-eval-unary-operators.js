// expect: StackOverflow
// discarded: no
// name: RangeError
// why: eval of a hundred thousand prefix operators; each one is a level of parser recursion.
eval('-'.repeat(1e5) + '1');
