// expect: Timeout
// caps: sleep
// wall-time: 500
// why: calls a slow host function forever and swallows every error; the wall-clock limit must end it anyway and must not be catchable.
for (;;) {
  try {
    sleep(100);
  } catch {
    // keep going
  }
}
