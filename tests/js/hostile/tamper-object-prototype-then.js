// expect: Done
// result: undefined
// why: makes every object a thenable. quickjs-ng wraps a top-level-await script's completion value in a plain object, so the program's own `then` adopts the wrapper (here with 42, whose `.value` is undefined) (documented in docs/limits.md): it can only mislead itself. The runner's fresh-sandbox check proves nothing leaks to other sandboxes.
Object.prototype.then = function (resolve) { resolve(42); };
globalThis.tampered = true;
await null;
'completion';
