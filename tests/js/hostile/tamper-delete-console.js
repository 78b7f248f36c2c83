// expect: Done
// result: 'undefined'
// why: deletes globalThis.console; the host's own reporting must not need it, and the next sandbox still has one.
delete globalThis.console;
globalThis.tampered = true;
typeof console;
