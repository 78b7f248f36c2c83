// expect: Timeout
// why: includes() over a 4-billion-element sparse array walks every hole in C.
new Array(2 ** 32 - 1).includes('needle');
