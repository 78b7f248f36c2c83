// expect: JSException
// name: RangeError
// message: nests deeper
// why: every read of `next` makes a new object with the same getter, so the value is infinitely deep without being cyclic.
function layer() { return { get next() { return layer(); } }; }
layer();
