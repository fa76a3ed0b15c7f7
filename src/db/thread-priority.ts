import { setPriority } from 'node:os';

/**
 * Bulk work yields to the event loop's thread: on Linux a thread's nice value is its own, so
 * under contention the main thread (an HTTP server answering /healthz, the part of a parallel
 * export being written now) goes first, and on an idle machine this thread still gets every
 * cycle it wants. Raising one's own nice value needs no privilege; where it fails nothing changes.
 */
const WORKER_NICE = 10;

/** Lowers the calling thread's priority (call it first thing in a worker thread). */
export function yieldToMainThread(): void {
  try {
    setPriority(WORKER_NICE);
  } catch {
    // not permitted here: the thread keeps the process's priority
  }
}
