// expect: JSException
// name: RangeError
// message: BigInt
// caps: echoSync
// why: a million-bit BigInt passed to a host function: refused in JS before the host has to convert it.
echoSync(2n ** 1000000n);
