// expect: Timeout
// why: each fill of 32 MiB is one builtin call without interrupt checks inside it; the loop around them must still stop.
const bytes = new Uint8Array(32 << 20);
for (let i = 0; ; i++) bytes.fill(i & 255);
