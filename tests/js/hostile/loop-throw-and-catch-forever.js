// expect: Timeout
// why: throwing and catching errors forever: every iteration builds an Error with a stack trace.
for (;;) {
  try {
    throw new Error('again');
  } catch {
    // and again
  }
}
