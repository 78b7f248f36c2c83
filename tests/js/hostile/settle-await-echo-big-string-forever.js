// expect: Timeout
// caps: echo
// why: `for (;;) await echo(bigString)`: no tampering at all, but every round trip does guest and host work on 1 MiB; the evaluation must still end at its CPU budget.
const big = 'x'.repeat(1 << 20);
for (;;) await echo(big);
