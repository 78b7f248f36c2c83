// expect: Done
// result: { answer: 1 }
// caps: echo
// why: Object.prototype, Promise.prototype and Array.prototype frozen before a host call; decoding the answer must not need to write to any of them.
Object.freeze(Object.prototype);
Object.freeze(Promise.prototype);
Object.freeze(Array.prototype);
globalThis.tampered = true;
await echo({ answer: 1 });
