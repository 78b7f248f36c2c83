// expect: JSException
// message: [the error's message could not be read]
// why: the message getter throws an object whose toString throws too: the report says the message was unreadable instead of losing the error or failing.
const unprintable = { toString() { throw unprintable; } };
throw Object.defineProperty(new Error(), 'message', { get() { throw unprintable; } });
