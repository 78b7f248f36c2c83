// expect: Timeout
// caps: echo
// why: after a host call the script starts an async function that re-queues itself forever and ends; the job queue never drains.
await echo(1);
(async () => {
  for (;;) await null;
})();
'done';
