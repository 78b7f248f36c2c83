// expect: StackOverflow
// name: RangeError
// why: the Function constructor compiles a body nested a hundred thousand levels deep.
new Function('return ' + '['.repeat(1e5) + ']'.repeat(1e5));
