// expect: OutOfMemory
// discarded: no
// why: defines ever more distinct properties through Object.defineProperty.
{
  const o = {};
  for (let i = 0; ; i++) Object.defineProperty(o, 'k' + i, { value: i, enumerable: true });
}
