// expect: Timeout
// why: the out-of-memory error is catchable (Limits::memory_bytes), so a program that catches it and retries forever spins until the CPU budget ends it; the engine must survive thousands of failed allocations.
{
  const kept = [];
  for (;;) {
    try {
      kept.push(new Float64Array(1 << 17));
    } catch {
      // retry forever
    }
  }
}
