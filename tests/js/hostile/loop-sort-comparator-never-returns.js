// expect: Timeout
// why: a sort comparator that never returns, called from the engine's C sort.
[3, 1, 2].sort(() => { for (;;) {} });
