// expect: StackOverflow
// discarded: no
// name: RangeError
// why: toLocaleString of arrays nested two hundred thousand deep: C calls C through every element.
{
  let nested = [];
  for (let i = 0; i < 2e5; i++) nested = [nested];
  nested.toLocaleString();
}
