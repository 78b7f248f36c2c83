// expect: Timeout
// caps: sleep
// wall-time: 1000
// why: ten calls to a host function that takes 0.3 s: no guest CPU to speak of, but 3 s of wall clock under a 1 s wall-time limit.
for (let i = 0; i < 10; i++) sleep(300);
'never reached';
