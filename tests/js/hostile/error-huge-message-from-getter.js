// expect: JSException
// name: Error
// message: truncated
// why: the message is a getter that builds 20 million characters only when the host reads it.
throw Object.defineProperty(new Error(), 'message', { get() { return 'g'.repeat(2e7); } });
