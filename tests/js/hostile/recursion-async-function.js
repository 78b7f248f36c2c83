// expect: StackOverflow
// why: an async function calls itself before its first await, so the recursion is synchronous.
async function deeper() { return deeper(); }
await deeper();
