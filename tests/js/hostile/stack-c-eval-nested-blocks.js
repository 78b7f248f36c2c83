// expect: StackOverflow
// discarded: no
// why: eval of 100000 nested blocks, a different recursion path of the parser than expressions.
eval('{'.repeat(1e5) + '}'.repeat(1e5));
