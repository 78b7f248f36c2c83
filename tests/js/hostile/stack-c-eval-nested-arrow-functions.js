// expect: StackOverflow
// discarded: no
// name: RangeError
// why: eval of arrow functions nested a hundred thousand deep, the parser's worst native-to-shadow stack ratio.
eval('x => '.repeat(1e5) + '1');
