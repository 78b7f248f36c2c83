// expect: Done
// result: [ [ 'apple', 3 ], [ 'pear', 2 ], [ 'plum', 1 ] ]
// why: classes, Map and Set, sorting with a comparator.
class Counter {
  #counts = new Map();
  add(word) { this.#counts.set(word, (this.#counts.get(word) ?? 0) + 1); }
  top() { return [...this.#counts].sort((a, b) => b[1] - a[1]); }
}
const counter = new Counter();
for (const w of 'apple pear apple plum pear apple'.split(' ')) counter.add(w);
new Set(counter.top().map(([w]) => w)).size === 3 ? counter.top() : null;
