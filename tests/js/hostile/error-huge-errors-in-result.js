// expect: Done
// why: Error values inside a result with megabyte messages and names: each is cut to its documented size, so the result stays small.
Array.from({ length: 20 }, (_, i) => {
  const e = new RangeError(String(i).repeat(1e6));
  e.name = 'R'.repeat(1e5);
  return e;
});
