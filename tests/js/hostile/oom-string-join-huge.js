// expect: OutOfMemory
// why: join builds one 100-million-character string from ten million pieces.
new Array(1e7).fill('abcdefghij').join('').length;
