// expect: OutOfMemory
// why: 1 MiB typed arrays allocated and kept until the memory limit.
{
  const kept = [];
  for (;;) kept.push(new Float64Array(1 << 17));
}
