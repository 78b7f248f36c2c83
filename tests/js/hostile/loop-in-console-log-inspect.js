// expect: Timeout
// why: console.log formats a Proxy whose ownKeys trap never returns; the formatting runs inside the sandbox on its budget.
console.log(new Proxy({}, { ownKeys() { for (;;) {} } }));
