// expect: Timeout
// why: a finally block that runs forever while an exception is propagating.
try {
  throw new Error('on the way out');
} finally {
  for (;;) {}
}
