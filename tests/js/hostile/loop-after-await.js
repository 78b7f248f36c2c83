// expect: Timeout
// why: an infinite loop that starts only after a top-level await, i.e. inside a promise job.
await null;
for (;;) {}
