// A TypeScript program as an agent writes one: typed modules, an enum, timers and web globals.
// Run it with `build/quickbox run examples/typescript/main.ts`: the CLI strips the types of this
// file and of the .ts and .mts files it imports, which load from this directory only.
import { Priority, byPriority, type Task } from './tasks.ts';
import { sleep, tick } from './schedule.mts';

const tasks: Task[] = [
  { title: 'write the report', priority: Priority.Normal, url: 'https://example.com/docs/report?draft=1' },
  { title: 'fix the build', priority: Priority.Urgent, url: 'https://example.com/ci/builds/42' },
  { title: 'tidy the wiki', priority: Priority.Low, url: 'https://wiki.example.com/Home#top' },
];

for (const task of [...tasks].sort(byPriority)) {
  const { hostname, pathname } = new URL(task.url);
  console.log(`${Priority[task.priority].padEnd(6)} ${task.title} (${hostname}${pathname})`);
}

// The timeout falls between the second and the third tick: timers run in the order they are due.
setTimeout(() => console.log('timeout after 25 ms'), 25);
const ticks: number = await tick(3, 10, (n) => console.log(`tick ${n}`));
await sleep(5);

const bytes = new TextEncoder().encode(tasks.map((t) => t.title).join('\n'));
console.log(`${ticks} ticks, ${bytes.length} bytes of titles`);
