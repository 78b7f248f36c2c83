// expect: OutputLimit
// why: an empty array whose length is 2^32-1: every hole becomes undefined, and the encoder must stop at the result limit rather than walk all of them.
const sparse = [];
sparse.length = 2 ** 32 - 1;
sparse;
