// expect: Done
// result: true
// why: runs out of memory inside an async function, so the failure travels as a promise rejection to an await.
// A caught out-of-memory error is a real InternalError (or null, when not even that could be allocated).
const isOutOfMemory = (e) => e === null || (e instanceof Error && Object.is(e, e) && e.message === 'out of memory');
let verdict = 'no error';
try {
  await (async () => { await null; const o = {}; for (let i = 0; ; i++) o['a' + i] = i; })();
} catch (e) {
  verdict = isOutOfMemory(e);
}
verdict;
