// expect: Timeout
// why: a Map that gets a new entry for every entry visited: forEach never reaches the end, and the map is emptied before memory runs out.
const map = new Map([[0, 0]]);
let n = 0;
map.forEach(() => {
  n++;
  if (map.size > 1000) map.clear();
  map.set(n, n);
});
