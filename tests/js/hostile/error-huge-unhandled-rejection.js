// expect: JSException
// name: Error
// message: truncated
// why: an unhandled rejection whose reason has a 20-million-character message: reported like a thrown error, cut with a marker.
Promise.reject(new Error('r'.repeat(2e7)));
'finished';
