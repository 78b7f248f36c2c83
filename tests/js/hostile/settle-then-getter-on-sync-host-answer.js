// expect: Timeout
// caps: echoSync
// why: an async function returning a sync capability's answer resolves its promise with it, which reads the `then` getter planted on Object.prototype.
Object.defineProperty(Object.prototype, 'then', { get() { for (;;) {} }, configurable: true });
globalThis.tampered = true;
async function ask() { return echoSync({ answer: 1 }); }
await ask();
