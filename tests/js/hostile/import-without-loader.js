// expect: JSException
// name: Error
// message: no module loader is set for this sandbox
// why: the sandbox finds no module by itself: without a host loader every import fails, and trying thousands of them in a loop changes nothing.
for (let i = 0; i < 10000; i++) {
  try { await import('./m' + i + '.js'); } catch {}
}
await import('/etc/passwd');
