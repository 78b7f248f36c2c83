// expect: JSException
// name: Error
// message: Unhandled promise rejection: x
// why: a rejected promise nobody handles must not vanish: the operation ends with the rejection reason.
Promise.reject(new Error('x'));
'finished';
