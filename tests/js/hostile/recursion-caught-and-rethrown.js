// expect: StackOverflow
// why: every level catches the RangeError and throws it again, so the unwinding itself runs code at every level.
function deeper() {
  try {
    return deeper() + 1;
  } catch (e) {
    throw e;
  }
}
deeper();
