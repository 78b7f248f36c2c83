// expect: OutOfMemory
// why: a WeakMap whose keys are all kept alive elsewhere grows like any map.
{
  const map = new WeakMap();
  const keys = [];
  for (;;) {
    const key = {};
    keys.push(key);
    map.set(key, [key]);
  }
}
