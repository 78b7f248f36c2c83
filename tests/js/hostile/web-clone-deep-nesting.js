// expect: StackOverflow
// discarded: no
// why: structuredClone recurses once per level; a hundred thousand nested arrays end in the catchable stack-limit RangeError, never a trap.
let v = [];
for (let i = 0; i < 1e5; i++) v = [v];
structuredClone(v);
