// expect: JSException
// name: SyntaxError
// why: source that does not parse.
function (
