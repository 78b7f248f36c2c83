// expect: OutOfMemory
// discarded: no
// why: grows a Set without bound.
{
  const s = new Set();
  for (let i = 0; ; i++) s.add(i);
}
