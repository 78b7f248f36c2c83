// expect: Timeout
// why: the thrown error's message is a getter that loops; it runs while the error is being reported, after the script itself ended.
throw Object.defineProperty(new Error('never shown'), 'message', { get() { for (;;) {} } });
