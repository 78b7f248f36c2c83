// expect: JSException
// name: ReferenceError
// message: Atomics is not defined
// why: Atomics.wait would block the thread forever; the guest is single-threaded and built without Atomics (and SharedArrayBuffer cannot be shared with anything), so the attempt fails at once.
Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0);
