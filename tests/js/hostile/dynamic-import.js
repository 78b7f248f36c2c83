// expect: JSException
// name: Error
// message: cannot import '/etc/passwd': no module loader is set for this sandbox
// why: import() is the one way a script could ask for outside code or files; this sandbox has no module loader.
await import('/etc/passwd');
