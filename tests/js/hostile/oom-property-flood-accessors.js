// expect: OutOfMemory
// why: a property flood of accessor properties, each with its own getter closure.
{
  const flooded = {};
  for (let i = 0; ; i++) Object.defineProperty(flooded, 'k' + i, { get: () => i, configurable: true });
}
