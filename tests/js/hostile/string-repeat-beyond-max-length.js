// expect: JSException
// name: RangeError
// message: string too long
// why: 'x'.repeat(2**30) asks for more than QuickJS's maximum string length (2^30 - 1), which is a RangeError before any memory is allocated.
'x'.repeat(2 ** 30);
