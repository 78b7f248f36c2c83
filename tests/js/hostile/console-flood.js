// expect: Timeout
// console-dropped: yes
// why: unbounded console output; the console cap keeps what the host stores bounded and the CPU budget ends the loop.
for (;;) console.log('x'.repeat(1000));
