// expect: OutputLimit
// cpu-time: 1000
// message: BigInt
// limit: BigInt limit
// why: one BigInt of a million bits as the whole result.
2n ** 1000000n;
