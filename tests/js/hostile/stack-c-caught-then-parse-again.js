// expect: Done
// result: 5
// why: catches the RangeError of a JSON text nested too deep five times and goes on each time.
let caught = 0;
for (let i = 0; i < 5; i++) {
  try { JSON.parse('['.repeat(1e6)); } catch (e) { if (e instanceof RangeError) caught++; }
}
caught;
