// expect: Done
// result: { b: 1 }
// why: an inherited getter named like a key that never returns; the encoder reads only own properties.
Object.defineProperty(Object.prototype, 'a', { get() { for (;;) {} }, set() {}, configurable: true });
globalThis.tampered = true;
({ b: 1 });
