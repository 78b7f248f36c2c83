// expect: OutOfMemory
// why: Array.from with a length of 100 million fills a dense array from C.
Array.from({ length: 1e8 }).length;
