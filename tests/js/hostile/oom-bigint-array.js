// expect: OutOfMemory
// discarded: no
// why: keeps ever more large BigInts.
{
  const keep = [];
  for (let i = 0n; ; i++) keep.push(i << 1000n);
}
