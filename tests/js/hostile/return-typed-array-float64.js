// expect: JSException
// name: TypeError
// message: typed array other than Uint8Array
// why: only Uint8Array crosses as bytes; other typed arrays are refused by name.
new Float64Array(4);
