// expect: Done
// result: 'done'
// why: globalThis.console replaced by a Proxy whose every trap throws.
globalThis.console = new Proxy({}, { get() { throw new Error('poisoned console'); }, has() { throw new Error('poisoned console'); } });
globalThis.tampered = true;
'done';
