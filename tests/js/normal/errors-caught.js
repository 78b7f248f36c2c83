// expect: Done
// result: [ 'TypeError', 'RangeError', 'Error' ]
// why: programs that throw and catch their own errors carry on normally.
const names = [];
for (const bad of [() => null.x, () => new Array(-1), () => { throw new Error('mine'); }]) {
  try { bad(); } catch (e) { names.push(e.name); }
}
names;
