// expect: Timeout
// why: the result has a getter that loops; it runs while the result is encoded for the host.
({ get value() { for (;;) {} } });
