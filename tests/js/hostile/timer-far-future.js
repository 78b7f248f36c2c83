// expect: Timeout
// message: timer due in
// why: awaits a timer due in 24.8 days (the longest delay); sleeping uses no CPU, so without a wall-clock limit the CPU time limit bounds the wait, and a timer beyond it ends the evaluation at once.
await new Promise((resolve) => setTimeout(resolve, 2147483647));
