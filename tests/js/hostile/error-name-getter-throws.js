// expect: JSException
// name: [the error's name could not be read: Error: no name for you]
// message: named badly
// why: the error's name is a getter that throws while the error is being reported; the report must still come back as a JSException, not Internal.
throw Object.defineProperty(new Error('named badly'), 'name', { get() { throw new Error('no name for you'); } });
