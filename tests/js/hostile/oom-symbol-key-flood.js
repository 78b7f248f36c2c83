// expect: OutOfMemory
// why: adds ever more symbol-keyed properties (each symbol is a new atom).
{
  const o = {};
  for (let i = 0; ; i++) o[Symbol(i)] = i;
}
