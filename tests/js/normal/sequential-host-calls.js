// expect: Done
// result: 'done after 50 calls'
// caps: echo echoSync
// why: a loop of awaited async calls mixed with sync calls.
let count = 0;
for (let i = 0; i < 50; i++) {
  const v = await echo({ i });
  count += echoSync(v.i) === i ? 1 : 0;
}
`done after ${count} calls`;
