// expect: Timeout
// why: Symbol.toPrimitive runs for unary plus, from the engine's ToNumber.
+{ [Symbol.toPrimitive]() { for (;;) {} } };
