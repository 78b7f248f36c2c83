// expect: OutOfMemory
// caps: echo
// why: the memory bomb goes off in code resumed after a host call settled.
await echo(1);
{
  const kept = [];
  for (;;) kept.push([1, 2, 3, 4]);
}
