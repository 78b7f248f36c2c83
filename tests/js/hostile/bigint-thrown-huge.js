// expect: JSException
// name:
// message: truncated
// why: throwing a 300000-digit BigInt: its decimal text is the message (formatted in the guest, on the guest's budget), cut with a marker.
throw 10n ** 300000n;
