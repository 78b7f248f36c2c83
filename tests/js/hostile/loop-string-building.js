// expect: Timeout
// why: string building that never ends but never grows past a megabyte, so memory is not what stops it.
let text = '';
for (;;) {
  text += 'x';
  if (text.length > 1e6) text = '';
}
