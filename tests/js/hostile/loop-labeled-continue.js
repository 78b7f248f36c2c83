// expect: Timeout
// why: nested loops that jump to the outer label forever: the back edge is a labeled continue.
outer: for (;;) {
  for (;;) continue outer;
}
