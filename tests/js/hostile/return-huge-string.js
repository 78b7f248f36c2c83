// expect: OutputLimit
// why: a 20 MiB result: over the 16 MiB result limit, under the 64 MiB memory limit (so the result limit, not memory, decides).
'x'.repeat(20 << 20);
