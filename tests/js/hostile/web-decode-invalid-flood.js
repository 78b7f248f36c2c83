// expect: OutOfMemory
// why: decodes 24 MiB of invalid bytes, each of which becomes a 3-byte U+FFFD; the decoder's output buffer is on the JS heap and its memory limit, so it ends in OutOfMemory, not a host allocation.
const bytes = new Uint8Array(24 << 20).fill(0xff);
new TextDecoder().decode(bytes);
