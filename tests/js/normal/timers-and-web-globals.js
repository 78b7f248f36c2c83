// expect: Done
// result: 'polled 3 times; 3 bytes; clone ok; ba7816bf; $1,234.50; aborted'
// why: what agent code does with timers and web globals: poll with a sleep, encode text, clone state, hash, format money, give up after a timeout.
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
let polls = 0;
while (polls < 3) { polls++; await sleep(5); }
const bytes = new TextEncoder().encode('hé').length;
const state = { seen: new Set([1]), at: new Date(0) };
const copy = structuredClone(state);
const cloned = copy.seen.has(1) && copy.at.getTime() === 0 && copy !== state;
const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', new TextEncoder().encode('abc')));
const hex = Array.from(digest.slice(0, 4), (b) => b.toString(16).padStart(2, '0')).join('');
const money = (1234.5).toLocaleString('en-US', { style: 'currency', currency: 'USD' });
const signal = AbortSignal.timeout(10);
await new Promise((resolve) => signal.addEventListener('abort', resolve));
`polled ${polls} times; ${bytes} bytes; clone ${cloned ? 'ok' : 'wrong'}; ${hex}; ${money}; ${signal.aborted ? 'aborted' : 'not aborted'}`;
