// expect: OutOfMemory
// why: ten thousand suspended generators are cheap; millions of them, each holding its frame, are not.
{
  function* forever() { for (;;) yield; }
  const kept = [];
  for (;;) {
    const g = forever();
    g.next();
    kept.push(g);
  }
}
