// expect: Timeout
// why: a JSON.parse reviver that never returns, called from C for each value.
JSON.parse('[1, 2, 3]', () => { for (;;) {} });
