// expect: JSException
// name: TypeError
// message: function
// why: the awaited result is a promise resolved with a function: the value under the promise is checked like any result.
Promise.resolve(() => 1);
