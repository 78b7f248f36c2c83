// expect: Timeout
// discarded: no
// why: hashes a 48 MiB buffer over and over; the digest runs in C, outside the interpreter's interrupt checks, so it checks the CPU budget itself every MiB and stops with the catchable-nowhere Timeout, keeping the instance.
const data = new Uint8Array(48 << 20);
for (;;) await crypto.subtle.digest('SHA-512', data);
