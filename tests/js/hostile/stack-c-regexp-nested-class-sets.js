// expect: StackOverflow
// discarded: no
// name: RangeError
// why: a v-flag regular expression with character classes nested a hundred thousand deep.
new RegExp('[' + '[a'.repeat(1e5) + ']'.repeat(1e5 + 1), 'v');
