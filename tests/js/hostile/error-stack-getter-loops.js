// expect: Timeout
// why: the thrown error's stack is a getter that loops while the error is being reported: the CPU budget ends it, never Internal.
throw Object.defineProperty(new Error('m'), 'stack', { get() { for (;;) {} } });
