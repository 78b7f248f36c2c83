// expect: Timeout
// why: an object used as a property key converts itself with a toString that never returns.
const key = { toString() { for (;;) {} } };
({})[key];
