// expect: StackOverflow
// discarded: no
// name: RangeError
// why: eval of a right-associative assignment chain a hundred thousand long.
eval('var a; ' + 'a = '.repeat(1e5) + '1');
