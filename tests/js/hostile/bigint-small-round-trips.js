// expect: Done
// result: [ 18446744073709551616n, -1267650600228229401496703205375n, 0n ]
// caps: echo
// why: BigInts of ordinary size cross the boundary both ways exactly, sign included.
await echo([2n ** 64n, -(2n ** 100n - 1n), 0n]);
