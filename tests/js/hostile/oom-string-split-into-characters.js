// expect: OutOfMemory
// why: splitting a 30-million-character string into single characters makes an array far larger than the string.
'x'.repeat(3e7).split('').length;
