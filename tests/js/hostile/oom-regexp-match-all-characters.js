// expect: OutOfMemory
// why: a global match of every character of a 20-million-character string builds an array of 20 million strings in C.
'a'.repeat(2e7).match(/a/g).length;
