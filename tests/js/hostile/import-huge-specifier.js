// expect: JSException
// name: RangeError
// message: is 10000000 bytes, more than the limit of 4096 bytes
// why: a ten-megabyte import specifier is refused in the guest before any module loader sees it, and the message quotes only its first bytes.
await import('a'.repeat(10_000_000));
