// expect: JSException
// name: SyntaxError
// message: stack overflow
// why: a regexp with 100000 nested groups; the regexp compiler detects the deep recursion itself and reports it as a SyntaxError ("stack overflow"), not as the JS stack limit.
new RegExp('(?:'.repeat(1e5) + 'a' + ')'.repeat(1e5));
