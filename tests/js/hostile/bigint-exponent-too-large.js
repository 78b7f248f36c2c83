// expect: JSException
// name: RangeError
// message: BigInt is too large
// why: 2n ** 2n ** 64n asks for an astronomically large BigInt; the engine's own size cap refuses it before allocating.
2n ** (2n ** 64n);
