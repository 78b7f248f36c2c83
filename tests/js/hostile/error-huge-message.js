// expect: JSException
// name: Error
// message: truncated
// why: an Error whose message has 50 million characters; the message is cut with a marker, never lost (it used to come back empty).
throw new Error('x'.repeat(5e7));
