// expect: Timeout
// caps: echo
// why: a finally block that loops, entered after a host call settles.
try {
  await echo('work');
} finally {
  for (;;) {}
}
