// expect: Timeout
// why: an infinite loop inside a Proxy trap, entered from the engine's property lookup.
const trap = new Proxy({}, { get() { while (true) {} } });
trap.anything;
