// expect: Deadlock
// why: awaiting a promise that nothing can ever settle must end at once, not spin until the CPU budget.
await new Promise(() => {});
