// expect: Timeout
// why: a comparator that is merely slow, on an array large enough (200000 elements, well within memory) that the sort takes far longer than the budget.
const shuffled = Array.from({ length: 200000 }, (_, i) => (i * 7919) % 200003);
shuffled.sort((a, b) => {
  let spin = 0;
  for (let i = 0; i < 200; i++) spin += i;
  return a - b;
});
shuffled[0];
