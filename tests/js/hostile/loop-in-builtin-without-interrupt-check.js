// expect: Timeout
// why: Array.prototype.join walks 4 billion holes in C and never reaches QuickJS's interrupt check; only the hard deadline can stop it.
new Array(2 ** 32 - 1).join('');
