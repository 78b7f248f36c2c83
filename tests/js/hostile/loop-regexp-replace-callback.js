// expect: Timeout
// why: a global replace over 100,000 characters whose callback does real work for each match (small enough that the match list fits in memory, so the callbacks, not the heap, hit the limit).
'a'.repeat(1e5).replace(/a/g, () => {
  let spin = 0;
  for (let i = 0; i < 100000; i++) spin += i;
  return 'b';
});
