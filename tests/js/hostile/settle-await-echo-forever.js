// expect: Timeout
// caps: echo
// why: an endless sequence of tiny awaited host calls: each one is cheap, together they are not.
for (let i = 0; ; i++) await echo(i);
