// expect: OutOfMemory
// why: a property flood keyed by fresh symbols instead of strings.
{
  const flooded = {};
  for (;;) flooded[Symbol()] = 1;
}
