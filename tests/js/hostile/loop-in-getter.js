// expect: Timeout
// why: an infinite loop hidden behind an innocent-looking property read.
const trap = { get value() { for (;;) {} } };
trap.value;
