// expect: Timeout
// why: a Promise executor runs synchronously inside the constructor; this one never returns.
new Promise(() => { for (;;) {} });
