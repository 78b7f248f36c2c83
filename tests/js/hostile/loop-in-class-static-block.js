// expect: Timeout
// why: a class static initialisation block runs while the class is defined.
class Busy {
  static {
    for (;;) {}
  }
}
