// expect: OutputLimit
// why: 200000 strings of 100 characters (20 MB encoded) in one array: the encoder must stop at the result limit while it goes, not after.
const pieces = [];
for (let i = 0; i < 200000; i++) pieces.push(String(i).padStart(100, '.'));
pieces;
