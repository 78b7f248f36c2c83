// expect: OutOfMemory
// why: one allocation of 1 GiB, far above the memory limit.
new Uint8Array(1 << 30);
