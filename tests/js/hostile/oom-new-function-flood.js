// expect: OutOfMemory
// discarded: no
// why: compiles ever more functions with the Function constructor.
{
  const keep = [];
  for (let i = 0; ; i++) keep.push(new Function('a', 'return a + ' + i + ' + "' + 'x'.repeat(2000) + '"'));
}
