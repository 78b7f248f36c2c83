// expect: Timeout
// why: the delay argument's valueOf spins; converting it runs under the CPU budget.
setTimeout(() => {}, { valueOf() { for (;;); } });
