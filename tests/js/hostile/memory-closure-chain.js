// expect: OutOfMemory
// why: every closure captures the previous one, so nothing can be collected while the program runs.
{
  let chain = () => 0;
  for (;;) {
    const previous = chain;
    const padding = [1, 2, 3, 4, 5, 6, 7, 8];
    chain = () => previous() + padding.length;
  }
}
