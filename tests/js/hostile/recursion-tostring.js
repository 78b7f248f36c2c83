// expect: StackOverflow
// why: toString converts the object to a string again, recursing through the engine's ToPrimitive.
const loop = { toString() { return String(this); } };
String(loop);
