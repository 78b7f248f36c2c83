// Timer helpers: a promise that settles after a delay, and a ticker that stops itself.
export const sleep = (ms: number): Promise<void> => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** Calls onTick(1), onTick(2), ... every `every` ms, `times` times; settles with the count. */
export function tick(times: number, every: number, onTick: (n: number) => void): Promise<number> {
  return new Promise<number>((resolve) => {
    let n = 0;
    const id = setInterval(() => {
      onTick(++n);
      if (n === times) {
        clearInterval(id);
        resolve(n);
      }
    }, every);
  });
}
