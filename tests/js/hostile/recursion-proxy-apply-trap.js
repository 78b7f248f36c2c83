// expect: StackOverflow
// why: a callable Proxy whose apply trap calls the proxy again.
const f = new Proxy(function () {}, { apply() { return f(); } });
f();
