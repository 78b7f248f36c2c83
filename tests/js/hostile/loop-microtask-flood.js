// expect: Timeout
// why: the script itself finishes at once, but leaves an async function that re-queues itself forever.
async function spin() {
  for (;;) await null;
}
spin();
'returned before the jobs ran';
