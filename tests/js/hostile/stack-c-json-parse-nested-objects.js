// expect: StackOverflow
// discarded: no
// why: JSON.parse of 200000 nested objects recurses in C through the object path of the parser.
JSON.parse('{"a":'.repeat(2e5) + '1' + '}'.repeat(2e5));
