// expect: StackOverflow
// why: a generator that delegates to a new copy of itself with yield*.
function* deeper() { yield* deeper(); }
deeper().next();
