// expect: Timeout
// why: each timer sets the next with no delay, so one is always due; the guest runs them without sleeping, and the CPU budget ends it.
function again() { setTimeout(again, 0); }
again();
await new Promise(() => {});
