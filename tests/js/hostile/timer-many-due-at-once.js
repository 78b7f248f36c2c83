// expect: Done
// result: 5000
// why: thousands of timers due at the same moment run in order, each once, within the budget.
let ran = 0;
for (let i = 0; i < 5000; i++) setTimeout(() => { ran++; }, 5);
await new Promise((resolve) => setTimeout(resolve, 10));
ran
