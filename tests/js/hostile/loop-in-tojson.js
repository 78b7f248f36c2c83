// expect: Timeout
// why: JSON.stringify calls toJSON, which never returns.
JSON.stringify({ toJSON() { for (;;) {} } });
