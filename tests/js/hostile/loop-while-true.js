// expect: Timeout
// why: an infinite while loop with a constant condition.
while (true) {}
