// expect: StackOverflow
// why: Symbol.toPrimitive converts the object itself again.
const loop = { [Symbol.toPrimitive]() { return +loop; } };
+loop;
