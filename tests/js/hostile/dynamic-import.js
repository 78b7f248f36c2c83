// expect: JSException
// name: ReferenceError
// message: could not load module
// why: import() is the one way a script could ask for outside code or files; there is no module loader.
await import('/etc/passwd');
