// expect: StackOverflow
// discarded: no
// why: eval of 50000 template literals nested through their substitutions.
eval('`${'.repeat(5e4) + '1' + '}`'.repeat(5e4));
