// expect: OutOfMemory
// discarded: no
// why: keeps every match array (with captures) of a global regexp until the heap is full.
{
  const subject = 'ab'.repeat(5e4);
  const keep = [];
  for (;;) keep.push([...subject.matchAll(/(a)(b)?/g)]);
}
