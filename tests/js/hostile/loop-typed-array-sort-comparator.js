// expect: Timeout
// why: a comparator that never returns, called from the typed-array sort in C.
new Float64Array([3, 1, 2]).sort(() => { for (;;) {} });
