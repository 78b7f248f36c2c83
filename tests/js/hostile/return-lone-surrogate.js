// expect: JSException
// name: TypeError
// message: lone surrogate
// why: a string with a lone surrogate is not valid Unicode and cannot become UTF-8.
'abc\uD800def';
