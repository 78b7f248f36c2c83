// expect: StackOverflow
// why: the recursion goes through Reflect.apply at every level.
function deeper() { return Reflect.apply(deeper, null, []); }
deeper();
