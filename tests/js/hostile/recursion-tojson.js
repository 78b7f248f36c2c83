// expect: StackOverflow
// why: toJSON stringifies the object again: recursion through JSON.stringify and back into JS.
const loop = { toJSON() { return JSON.stringify(loop); } };
JSON.stringify(loop);
