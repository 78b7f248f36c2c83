// expect: Done
// result: 'logged'
// console-dropped: yes
// why: one console line of 5 million characters, over the 1 MiB console limit: cut and counted, and the program carries on.
console.log('x'.repeat(5e6));
'logged';
