// expect: StackOverflow
// discarded: no
// name: RangeError
// why: JSON.stringify of objects nested two hundred thousand deep recurses in C per level.
{
  let nested = {};
  for (let i = 0; i < 2e5; i++) nested = { nested };
  JSON.stringify(nested);
}
