// expect: StackOverflow
// why: a setter that assigns to itself.
const selfish = { set value(v) { this.value = v + 1; } };
selfish.value = 0;
