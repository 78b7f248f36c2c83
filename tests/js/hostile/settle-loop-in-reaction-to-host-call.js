// expect: Timeout
// caps: echo
// why: an infinite loop in a .then reaction to a host call; the script awaits another call, so the reaction runs while the host settles both.
echo(1).then(() => { for (;;) {} });
await echo(2);
