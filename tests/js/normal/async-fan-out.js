// expect: Done
// result: '0,2,4,6,8,10,12,14,16,18'
// caps: echo
// why: the intended use: fan out to a host tool with Promise.all and combine the answers.
const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => echo(i)));
answers.map((n) => n * 2).join(',');
