import type { Server, ServerResponse } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DrainResult } from '../ops/shutdown.ts';

/** How long aborted downloads get to release their connections and record their end. */
const ABORT_GRACE_MS = 10_000;

/**
 * A server's graceful stop: no new connections, running downloads finish until the deadline, then their connections are cut (their runs abort: part
 * files removed, history marked aborted) and the drain ends once every run has ended.
 */
export class HttpDrain {
  readonly #server: Server;
  /** Runs still going (the metrics' active runs): a drain ends when they all have. */
  readonly #activeRuns: () => number;
  readonly #inFlight = new Set<ServerResponse>();
  #settle: (() => void) | undefined;
  #deadline: AbortController | undefined;
  #result: Promise<DrainResult> | undefined;

  constructor(server: Server, activeRuns: () => number) {
    this.#server = server;
    this.#activeRuns = activeRuns;
  }

  get draining(): boolean {
    return this.#result !== undefined;
  }

  /** Counts a request until its response closes. */
  track(res: ServerResponse): void {
    this.#inFlight.add(res);
    res.once('close', () => {
      this.#inFlight.delete(res);
      if (this.#inFlight.size === 0) this.#settle?.();
    });
  }

  drain(timeoutMs: number): Promise<DrainResult> {
    if (this.#result) {
      if (timeoutMs === 0) this.#deadline?.abort();
      return this.#result;
    }
    this.#result = this.#drain(timeoutMs);
    return this.#result;
  }

  async #drain(timeoutMs: number): Promise<DrainResult> {
    const running = this.#activeRuns();
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    this.#server.closeIdleConnections();
    this.#deadline = new AbortController();
    const idle = new Promise<void>((resolve) => {
      this.#settle = resolve;
      if (this.#inFlight.size === 0) resolve();
    });
    const finished = await Promise.race([idle.then(() => true), sleep(timeoutMs, false, { signal: this.#deadline.signal }).catch(() => false)]);
    this.#deadline.abort();
    const aborted = finished ? 0 : this.#activeRuns();
    // Keep-alive connections that went idle after close() would hold it open; cut the rest at the deadline.
    this.#server.closeAllConnections();
    await closed;
    for (const end = Date.now() + ABORT_GRACE_MS; this.#activeRuns() > 0 && Date.now() < end; ) await sleep(20);
    return { finished: running - aborted, aborted };
  }
}
