// expect: OutputLimit
// cpu-time: 1000
// message: BigInt
// limit: BigInt limit
// why: a negative BigInt of 900000 bits deep inside an object: the limit applies wherever the BigInt sits, and the message says where.
({ a: [{ b: -(2n ** 900000n) }] });
