// expect: Timeout
// caps: echo
// why: Object.prototype.then makes every host answer a thenable; the engine calls it in a job queued while the call settles, and it never returns.
Object.prototype.then = function () { for (;;) {} };
globalThis.tampered = true;
await echo({ answer: 42 });
