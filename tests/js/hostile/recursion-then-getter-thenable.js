// expect: StackOverflow
// why: resolving a promise reads `then`, whose getter resolves another promise with the same object.
const loop = { get then() { Promise.resolve(loop); return undefined; } };
Promise.resolve(loop);
