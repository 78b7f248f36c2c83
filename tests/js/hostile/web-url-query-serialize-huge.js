// expect: OutOfMemory
// discarded: no
// why: percent-encoding turns each byte of '€' into %XX, nine bytes per character, in ada's buffers outside the JS heap; serializing is refused up front when the memory limit has no room for it.
new URLSearchParams({ a: '€'.repeat(16 << 20) }).toString();
