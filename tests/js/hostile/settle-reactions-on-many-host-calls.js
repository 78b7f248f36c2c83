// expect: Timeout
// caps: echo
// why: 1000 host calls in flight at once, each with a reaction that works for a while; the reactions run as the host settles them.
await Promise.all(
  Array.from({ length: 1000 }, (_, i) =>
    echo(i).then((v) => {
      for (let j = 0; j < 2e6; j++) v = (v * 31 + j) | 0;
      return v;
    }),
  ),
);
