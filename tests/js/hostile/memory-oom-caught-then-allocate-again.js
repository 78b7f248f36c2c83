// expect: OutOfMemory
// why: swallows the first out-of-memory error and keeps allocating; the second one is not caught.
{
  const kept = [];
  try {
    for (;;) kept.push(new Float64Array(1 << 17));
  } catch {
    // ignored on purpose
  }
  for (;;) kept.push(new Float64Array(1 << 17));
}
