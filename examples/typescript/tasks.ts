// The types the example's modules share: a task, its priority, and the order tasks are done in.
export enum Priority {
  Low = 1,
  Normal,
  Urgent,
}

export interface Task {
  title: string;
  priority: Priority;
  url: string;
}

/** Most urgent first. */
export function byPriority(a: Task, b: Task): number {
  return b.priority - a.priority;
}
