// expect: OutOfMemory
// why: a 10 MB source text built in JS and handed to eval; compiling 5 million additions needs more than the memory limit.
eval('1+'.repeat(5e6) + '1');
