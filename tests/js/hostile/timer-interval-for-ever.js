// expect: Timeout
// wall-time: 500
// message: wall-clock limit of 500 ms
// why: an interval that is never cleared keeps an evaluation that awaits nothing alive; the wall clock ends it, and the driving loop never sleeps past it.
let ticks = 0;
setInterval(() => { ticks++; }, 1);
await new Promise(() => {});
