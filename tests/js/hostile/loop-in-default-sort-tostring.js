// expect: Timeout
// why: the default sort compares elements as strings, calling a toString that never returns.
[{ toString() { for (;;) {} } }, {}].sort();
