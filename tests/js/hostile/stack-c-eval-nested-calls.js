// expect: StackOverflow
// discarded: no
// name: RangeError
// why: eval of calls nested in each other's argument list.
eval('f('.repeat(1e5) + ')'.repeat(1e5));
