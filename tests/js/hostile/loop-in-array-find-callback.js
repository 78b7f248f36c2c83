// expect: Timeout
// why: Array.prototype.find over a 4-billion-element sparse array visits every index with its callback (find does not skip holes).
new Array(2 ** 32 - 1).find(() => false);
