// expect: StackOverflow
// discarded: no
// name: RangeError
// why: a chain of objects whose valueOf converts the next one: JS and C frames alternate.
{
  let link = 1;
  for (let i = 0; i < 1e5; i++) { const next = link; link = { valueOf() { return +next; } }; }
  +link;
}
