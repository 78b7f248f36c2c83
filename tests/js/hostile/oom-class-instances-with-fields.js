// expect: OutOfMemory
// why: class instances with many fields, kept in an array.
{
  class Wide { a = 1; b = 2; c = 3; d = 4; e = 5; f = 6; g = 7; h = 8; }
  const kept = [];
  for (;;) kept.push(new Wide());
}
