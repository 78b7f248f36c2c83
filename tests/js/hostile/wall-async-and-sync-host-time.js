// expect: Timeout
// caps: echo sleep
// wall-time: 500
// why: alternates async host calls with a slow sync one; time spent in handlers of either kind counts against the wall clock.
for (;;) {
  await echo(1);
  sleep(50);
}
