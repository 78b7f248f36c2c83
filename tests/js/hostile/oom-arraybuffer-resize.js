// expect: OutOfMemory
// why: a resizable ArrayBuffer asked to grow to 1 GiB in place.
new ArrayBuffer(1, { maxByteLength: 2 ** 30 }).resize(2 ** 30);
