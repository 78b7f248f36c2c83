// expect: Timeout
// caps: echo
// why: a `then` getter that does a little work each time, so the work hidden in settling grows with the number of host calls; 100000 calls must still stop at the budget.
Object.defineProperty(Object.prototype, 'then', {
  get() {
    let spin = 0;
    for (let i = 0; i < 20000; i++) spin += i;
    return undefined;
  },
  configurable: true,
});
globalThis.tampered = true;
for (let i = 0; i < 100000; i++) await echo({ i });
