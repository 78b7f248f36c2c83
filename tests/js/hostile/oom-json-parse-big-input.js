// expect: OutOfMemory
// discarded: no
// why: JSON.parse of a text whose parsed form does not fit in the heap, again and again.
{
  const text = JSON.stringify(Array.from({ length: 1e4 }, (_, i) => ({ i, s: 'x' + i })));
  const keep = [];
  for (;;) keep.push(JSON.parse(text));
}
