// expect: OutOfMemory
// why: JSON text of 10 million numbers (20 MB) that parses into far more than the memory limit.
JSON.parse('[' + '1,'.repeat(1e7) + '1]').length;
