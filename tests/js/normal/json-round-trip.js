// expect: Done
// result: { items: 500, total: 124750, first: { id: 0, tags: [ 'a', 'b' ] } }
// why: building, stringifying and parsing a few kilobytes of JSON.
const items = Array.from({ length: 500 }, (_, id) => ({ id, tags: ['a', 'b'], note: 'item ' + id }));
const parsed = JSON.parse(JSON.stringify(items));
({ items: parsed.length, total: parsed.reduce((sum, item) => sum + item.id, 0), first: { id: parsed[0].id, tags: parsed[0].tags } });
