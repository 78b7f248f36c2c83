// expect: OutOfMemory
// why: every key is a new 1000-character atom, so the atom table itself grows fast.
{
  const flooded = {};
  const pad = 'k'.repeat(1000);
  for (let i = 0; ; i++) flooded[pad + i] = i;
}
