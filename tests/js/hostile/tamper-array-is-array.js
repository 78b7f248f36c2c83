// expect: Done
// result: [ 1, 2 ]
// why: Array.isArray made to lie; arrays must still cross as arrays.
Array.isArray = () => false;
globalThis.tampered = true;
[1, 2];
