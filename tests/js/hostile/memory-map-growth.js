// expect: OutOfMemory
// why: a Map that only grows, each entry holding a small array; the allocations are so small that the heap ends up completely full.
{
  const grown = new Map();
  for (let i = 0; ; i++) grown.set(i, [i, i, i, i, i, i, i, i]);
}
