// expect: OutputLimit
// cpu-time: 1000
// message: BigInt
// limit: BigInt limit
// why: ten copies of 2n**1000000n-1n in one result (they used to cost 22 s of quadratic decimal conversion on the host under a 200 ms budget); the host converts BigInts in linear time and refuses ones over the BigInt limit.
const big = 2n ** 1000000n - 1n;
Array(10).fill(big);
