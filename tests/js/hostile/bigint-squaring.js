// expect: JSException
// name: RangeError
// message: BigInt is too large
// why: squaring a BigInt until it exceeds QuickJS's BigInt size cap, which is a RangeError rather than a memory failure.
let big = 3n;
for (;;) big *= big;
