// expect: Timeout
// console-dropped: yes
// why: a console flood from promise jobs rather than the script body: the cap and the budget hold there too.
(async () => {
  for (;;) {
    await null;
    console.error('e'.repeat(1000));
  }
})();
