// expect: OutputLimit
// message: BigInt at $[0] has 125000 bytes (1000000 bits), more than the sandbox's BigInt limit of 65536 bytes
// why: ten copies of a million-bit BigInt as the result: the host once spent 22 s converting them to decimal; now the BigInt limit refuses them, in linear time.
const x = 2n ** 1000000n - 1n;
Array(10).fill(x);
