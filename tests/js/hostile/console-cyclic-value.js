// expect: Done
// result: 'logged'
// console: [Circular
// why: console.log of a value that contains itself prints the cycle as a reference.
const cyclic = { name: 'loop' };
cyclic.self = cyclic;
console.log(cyclic);
'logged';
