// expect: OutOfMemory
// discarded: no
// why: creates ever more promises that never settle (each with its resolving functions).
{
  const keep = [];
  for (;;) keep.push(new Promise(() => {}));
}
