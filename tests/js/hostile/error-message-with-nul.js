// expect: JSException
// name: Error
// message: after the NUL
// why: error text crosses with its length, so a NUL byte inside the message does not cut off what follows.
throw new Error('before\0after the NUL');
