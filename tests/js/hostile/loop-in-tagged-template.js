// expect: Timeout
// why: a tag function that never returns.
function tag() { for (;;) {} }
tag`hello ${1} world`;
