// expect: JSException
// name: Error
// message: the stack is huge
// why: an Error whose stack property was replaced with 20 million characters; the stack is cut, the message is kept.
const e = new Error('the stack is huge');
e.stack = 's'.repeat(2e7);
throw e;
