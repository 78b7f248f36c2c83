// expect: OutOfMemory
// why: a sparse array flooded with far-apart indices, so every element becomes a property of its own.
{
  const sparse = [];
  for (let i = 0; ; i++) sparse[i * 1000 + 7] = i;
}
