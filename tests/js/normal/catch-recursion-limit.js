// expect: Done
// result: 'RangeError'
// why: a program that probes the recursion limit and recovers, as a careful library might.
function deeper(n) { return deeper(n + 1) + 1; }
let name;
try { deeper(0); } catch (e) { name = e.name; }
name;
