// expect: Timeout
// why: a global replace over a million characters whose callback does real work for each match.
'a'.repeat(1e6).replace(/a/g, () => {
  let spin = 0;
  for (let i = 0; i < 1000; i++) spin += i;
  return 'b';
});
