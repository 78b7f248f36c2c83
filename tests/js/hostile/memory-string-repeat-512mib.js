// expect: OutOfMemory
// why: one string of 2^29 characters (512 MiB), within the engine's string length limit but far above the memory limit.
'x'.repeat(2 ** 29);
