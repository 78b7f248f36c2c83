// expect: Timeout
// why: Array.prototype.map consults the subclass's Symbol.species, a getter that never returns.
class Sneaky extends Array {
  static get [Symbol.species]() { for (;;) {} }
}
Sneaky.from([1, 2]).map((x) => x);
