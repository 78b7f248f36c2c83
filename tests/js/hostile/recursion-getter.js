// expect: StackOverflow
// why: a getter that reads itself, so the recursion goes through the engine's property lookup.
const selfish = { get depth() { return this.depth + 1; } };
selfish.depth;
