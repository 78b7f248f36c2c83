// expect: Timeout
// why: the classic "words separated by optional spaces" pattern backtracks exponentially when the input ends in a character it cannot match.
/^(\w+\s?)*$/.test('word '.repeat(12) + 'a'.repeat(20) + '!');
