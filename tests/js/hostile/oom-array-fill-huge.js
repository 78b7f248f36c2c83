// expect: OutOfMemory
// why: new Array(1e8).fill(0) makes a dense array of 800 MB in one builtin call.
new Array(1e8).fill(0).length;
