// expect: OutOfMemory
// discarded: no
// why: doubles an array with concat until the heap is full.
{
  let a = [1];
  for (;;) a = a.concat(a);
}
