// expect: JSException
// name:
// message: more characters
// why: a thrown plain object holding a 20-million-character string; its formatted text is cut (inspect shortens the string, as Node does), and the object itself is too large to come back as Error::thrown, which must not turn the report into Internal.
throw { payload: 'p'.repeat(2e7) };
