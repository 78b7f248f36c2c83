// expect: StackOverflow
// why: valueOf does arithmetic on itself, recursing through the engine's ToNumber.
const loop = { valueOf() { return this + 1; } };
loop * 2;
