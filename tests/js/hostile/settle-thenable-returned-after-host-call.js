// expect: Timeout
// caps: echo
// why: an async function returns a thenable after awaiting a host call; adopting it calls a `then` that never returns.
async function fetchThing() {
  await echo('request');
  return { then() { for (;;) {} } };
}
await fetchThing();
