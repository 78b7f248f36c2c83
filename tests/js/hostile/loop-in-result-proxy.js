// expect: Timeout
// why: the result is a Proxy whose ownKeys trap loops; encoding it must still be bounded by the CPU budget.
new Proxy({}, { ownKeys() { for (;;) {} } });
