// expect: OutOfMemory
// why: an object with ever more distinct property names (each one a new atom and a bigger shape).
{
  const flooded = {};
  for (let i = 0; ; i++) flooded['key' + i] = i;
}
