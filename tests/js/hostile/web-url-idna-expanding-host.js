// expect: OutOfMemory
// discarded: no
// why: IDNA maps U+FDFA to 18 code points, so ada's working memory for this host would be many times the input, outside the JS heap; the guest asks the memory limit for that worst case first and throws the catchable out-of-memory error instead of letting ada reach the hard cap.
new URL('https://' + '\uFDFA'.repeat(4 << 20) + '/');
