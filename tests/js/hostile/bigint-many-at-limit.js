// expect: Done
// why: 200 BigInts of exactly the 64 KiB limit (12.5 MiB in all) cross in binary and must not cost the host quadratic time.
Array(200).fill((1n << 524288n) - 1n);
