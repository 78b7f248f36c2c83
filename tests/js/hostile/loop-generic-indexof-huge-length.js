// expect: Timeout
// why: Array.prototype.indexOf on an array-like claiming 2^53-1 elements: the C loop looks each index up and never finds it.
Array.prototype.indexOf.call({ length: 2 ** 53 - 1 }, 'needle');
