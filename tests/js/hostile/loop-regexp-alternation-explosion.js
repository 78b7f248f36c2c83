// expect: Timeout
// why: an alternation of two identical branches under a star backtracks exponentially inside the regexp engine.
/^(a|a)*$/.test('a'.repeat(64) + 'b');
