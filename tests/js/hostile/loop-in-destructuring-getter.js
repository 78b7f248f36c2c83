// expect: Timeout
// why: destructuring reads a property through a getter that never returns.
const { trap } = { get trap() { for (;;) {} } };
