// expect: Done
// result: 'still answers'
// why: the program overwrites every console method with non-functions; its own console is broken, the host's reporting is not.
console.log = 1;
console.error = null;
console.warn = 'nope';
globalThis.tampered = true;
'still answers';
