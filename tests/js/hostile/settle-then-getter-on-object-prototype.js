// expect: Timeout
// caps: echo
// why: a getter on Object.prototype.then runs when the host's answer (an object) resolves the call's promise, i.e. while the host settles the call; it must count against the CPU budget.
Object.defineProperty(Object.prototype, 'then', { get() { for (;;) {} }, configurable: true });
globalThis.tampered = true;
await echo({ answer: 42 });
