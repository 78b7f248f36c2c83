// expect: StackOverflow
// discarded: no
// name: RangeError
// why: a chain of objects whose toString converts the next one: JS and C frames alternate.
{
  let link = {};
  for (let i = 0; i < 1e5; i++) { const next = link; link = { toString() { return String(next); } }; }
  String(link);
}
