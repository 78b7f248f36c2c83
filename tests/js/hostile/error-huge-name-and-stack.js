// expect: JSException
// message: small message
// why: an error whose name and stack are a million characters each: both are cut to their documented sizes, and the message still arrives.
const e = new Error('small message');
e.name = 'N'.repeat(1e6);
e.stack = 's'.repeat(1e6);
throw e;
