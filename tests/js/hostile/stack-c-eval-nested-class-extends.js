// expect: StackOverflow
// discarded: no
// name: RangeError
// why: eval of class expressions nested in each other's extends clause.
eval('(class extends '.repeat(1e4) + 'Object' + '{})'.repeat(1e4));
