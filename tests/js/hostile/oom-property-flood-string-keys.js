// expect: OutOfMemory
// why: the property flood that used to leak QuickJS's internal "uninitialized" value: a new string key per iteration on one object.
{
  const flooded = {};
  for (let i = 0; ; i++) flooded['k' + i] = i;
}
