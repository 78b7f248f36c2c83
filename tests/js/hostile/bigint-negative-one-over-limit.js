// expect: OutputLimit
// message: BigInt at $.n has 65537 bytes (524289 bits)
// limit: BigInt limit
// why: -(2^524288) needs one byte more than the limit although its CBOR bignum (tag 3, -1 - n) is 64 KiB of 0xff: the limit counts the value, not its encoding.
({ n: -(1n << 524288n) });
