// expect: StackOverflow
// discarded: no
// why: JSON.parse of a million nested arrays recurses in C; the JS stack check must trip before the wasm stack, so the sandbox is kept.
JSON.parse('['.repeat(1e6));
