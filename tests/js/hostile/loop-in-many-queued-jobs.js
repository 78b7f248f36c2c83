// expect: Timeout
// why: a thousand queued reactions that each loop: the first one spends the budget, and the other 999 belong to the evaluation that timed out, so they must not run in the sandbox's next evaluation.
for (let i = 0; i < 1000; i++) Promise.resolve(i).then(() => { for (;;) {} });
'queued';
