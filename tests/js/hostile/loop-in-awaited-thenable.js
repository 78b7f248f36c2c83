// expect: Timeout
// why: awaiting a plain thenable calls its then method in a job; it never returns.
await { then() { for (;;) {} } };
