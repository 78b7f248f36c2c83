// expect: Timeout
// why: a `with` scope backed by a Proxy whose has trap loops: entered by a plain identifier lookup.
with (new Proxy({}, { has() { for (;;) {} } })) {
  someName;
}
