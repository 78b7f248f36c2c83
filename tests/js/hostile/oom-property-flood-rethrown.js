// expect: OutOfMemory
// why: the out-of-memory error is caught and thrown again; uncaught in the end, it is still OutOfMemory, not JSException.
try {
  const flooded = {};
  for (let i = 0; ; i++) flooded['k' + i] = i;
} catch (e) {
  throw e;
}
