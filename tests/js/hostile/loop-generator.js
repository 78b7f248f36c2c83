// expect: Timeout
// why: an endless generator consumed by for-of (the loop body and the generator alternate forever).
function* naturals() {
  for (let n = 0; ; n++) yield n;
}
let sum = 0;
for (const n of naturals()) sum += n;
