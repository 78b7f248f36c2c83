// expect: StackOverflow
// why: JSON text nested a million levels deep; the parser recurses in C.
JSON.parse('['.repeat(1e6));
