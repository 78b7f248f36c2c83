// expect: Timeout
// why: breaking out of a for-of closes the generator, which runs its finally block; this one never ends.
function* guarded() {
  try {
    yield 1;
  } finally {
    for (;;) {}
  }
}
for (const value of guarded()) break;
