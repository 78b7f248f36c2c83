// expect: StackOverflow
// discarded: no
// name: RangeError
// why: a regexp with 100000 nested groups; the regexp compiler's own depth check reports the same catchable RangeError as the JS stack limit.
new RegExp('(?:'.repeat(1e5) + 'a' + ')'.repeat(1e5));
