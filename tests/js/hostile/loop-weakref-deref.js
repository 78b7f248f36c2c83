// expect: Timeout
// why: spinning on WeakRef.deref() for a target that stays alive.
const target = {};
const ref = new WeakRef(target);
for (;;) ref.deref();
