// expect: OutOfMemory
// discarded: no
// why: doubles a string through a regexp replace until the heap is full.
{
  let s = 'a'.repeat(1000);
  for (;;) s = s.replace(/a/g, 'aa');
}
