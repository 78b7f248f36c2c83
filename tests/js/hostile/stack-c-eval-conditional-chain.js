// expect: StackOverflow
// discarded: no
// name: RangeError
// why: eval of nested conditional operators.
eval('1 ? '.repeat(1e5) + '1' + ' : 1'.repeat(1e5));
