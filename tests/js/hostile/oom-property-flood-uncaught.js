// expect: OutOfMemory
// discarded: no
// why: floods an object with distinct property names until the heap is full, uncaught.
{
  const o = {};
  for (let i = 0; ; i++) o['p' + i] = i;
}
