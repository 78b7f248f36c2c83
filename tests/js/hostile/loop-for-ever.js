// expect: Timeout
// why: the simplest infinite loop; the CPU budget must stop it and leave the sandbox usable.
for (;;) {}
