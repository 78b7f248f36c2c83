// expect: Done
// result: 7
// caps: echo
// why: the global Promise replaced and Promise.resolve poisoned before an async host call; the capability makes its promise with the intrinsic.
const poisoned = function () { throw new Error('poisoned Promise'); };
Promise.resolve = poisoned;
globalThis.Promise = poisoned;
globalThis.tampered = true;
await echo(7);
