// expect: Timeout
// why: a thrown non-Error is formatted for the message; this one is a Proxy whose ownKeys trap loops while it is being inspected.
throw new Proxy({}, { ownKeys() { for (;;) {} } });
