// expect: Timeout
// caps: echo
// why: the same attack through Array.prototype: an array answer from the host is looked up for `then` when it resolves the promise.
Object.defineProperty(Array.prototype, 'then', { get() { for (;;) {} }, configurable: true });
globalThis.tampered = true;
await echo([1, 2, 3]);
