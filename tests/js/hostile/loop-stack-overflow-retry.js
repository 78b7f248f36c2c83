// expect: Timeout
// why: catching every stack overflow and recursing again makes exponential work out of a bounded stack.
function retry() {
  try {
    retry();
  } catch {
    retry();
  }
}
retry();
