// expect: Timeout
// why: an endless async generator consumed with for await: every step goes through promise jobs.
async function* ticks() {
  for (let i = 0; ; i++) yield i;
}
for await (const tick of ticks()) {}
