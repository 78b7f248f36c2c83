// expect: JSException
// name: RangeError
// message: BigInt is too large
// why: a left shift by ten million bits, over the engine's BigInt size cap.
1n << 10000000n;
