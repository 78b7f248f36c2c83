// expect: Timeout
// why: the timeout must not be catchable: a catch that swallows everything cannot turn it into a normal completion.
try {
  for (;;) {}
} catch {
  'escaped the timeout';
}
