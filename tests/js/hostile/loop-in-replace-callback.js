// expect: Timeout
// why: String.prototype.replace calls its replacer, which never returns.
'abc'.replace('b', () => { for (;;) {} });
