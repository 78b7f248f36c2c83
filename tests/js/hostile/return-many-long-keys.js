// expect: OutputLimit
// why: one object with 100000 keys of 200 characters: more than 16 MiB encoded, though no single piece is large.
const wide = {};
for (let i = 0; i < 1e5; i++) wide[String(i).padStart(200, '0')] = i;
wide;
