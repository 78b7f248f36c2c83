// expect: JSException
// name: Error
// message: truncated
// why: a message of a million lone surrogates: each becomes U+FFFD (three bytes of UTF-8), and the text is cut by characters, never in the middle of one.
throw new Error('\uD800'.repeat(1e6));
