// expect: Done
// result: 'frozen'
// why: freezes every global and its prototype, then the global object itself; the sandbox must still answer, and the next sandbox must not be frozen.
for (const key of Reflect.ownKeys(globalThis)) {
  const value = globalThis[key];
  if (value !== null && (typeof value === 'object' || typeof value === 'function')) {
    Object.freeze(value);
    if (value.prototype) Object.freeze(value.prototype);
  }
}
globalThis.tampered = true;
Object.freeze(globalThis);
'frozen';
