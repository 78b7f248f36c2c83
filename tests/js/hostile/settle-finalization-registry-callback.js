// expect: Timeout
// caps: echo
// why: FinalizationRegistry callbacks run as jobs once their targets die; this one loops, and the targets die at once (QuickJS counts references).
const registry = new FinalizationRegistry(() => { for (;;) {} });
for (let i = 0; i < 1000; i++) registry.register({ i }, i);
await echo('let the jobs run');
