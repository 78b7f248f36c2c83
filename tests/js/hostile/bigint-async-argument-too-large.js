// expect: JSException
// name: RangeError
// message: BigInt
// caps: echo
// why: the same for an async capability: its promise rejects with the RangeError.
await echo(-(2n ** 1000000n));
