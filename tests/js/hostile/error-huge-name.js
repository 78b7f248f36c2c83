// expect: JSException
// message: the name is huge
// why: an Error whose name has 10 million characters; the name is cut like the message, and the message still arrives intact.
const e = new Error('the name is huge');
e.name = 'N'.repeat(1e7);
throw e;
