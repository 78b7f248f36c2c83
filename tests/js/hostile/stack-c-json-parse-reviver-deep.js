// expect: StackOverflow
// discarded: no
// why: a reviver makes JSON.parse walk the parsed value again (internalize), recursing in C; the parse itself stays shallow enough per level.
JSON.parse('['.repeat(5e4) + ']'.repeat(5e4), (key, value) => value);
