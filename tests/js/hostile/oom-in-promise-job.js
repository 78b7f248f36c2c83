// expect: OutOfMemory
// why: the memory bomb goes off inside a promise job, after the script body finished.
await null;
{
  const kept = [];
  for (;;) kept.push({ a: 1, b: 2 });
}
