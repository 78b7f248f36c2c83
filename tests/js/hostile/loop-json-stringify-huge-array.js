// expect: Timeout
// why: JSON.stringify walking a 4-billion-element array; every element goes through a replacer, so the output stays small while the walk never ends.
JSON.stringify(new Array(2 ** 32 - 1), (key, value) => (key === '' ? value : 0)).length;
