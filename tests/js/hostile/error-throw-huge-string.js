// expect: JSException
// name:
// message: truncated
// why: throwing a 17-million-character string: the report is cut to a documented size with a visible marker instead of overflowing the reply (it used to end in Internal, "malformed reply").
throw 'w'.repeat(1.7e7);
