// expect: Done
// result: 1
// caps: echo
// why: an inherited setter for `a` that never returns: building the host's answer { a: 1 } in JS defines properties, it never assigns through setters.
Object.defineProperty(Object.prototype, 'a', { set() { for (;;) {} }, configurable: true });
globalThis.tampered = true;
const answer = await echo({ a: 1 });
Object.getOwnPropertyDescriptor(answer, 'a').value;
