// expect: Timeout
// caps: echo
// why: an infinite loop that starts only once a host call has settled, so it runs when the host resumes the program.
await echo('ready');
for (;;) {}
