import type { Logger } from '../core/logger.ts';

/** How long running work may take to finish after SIGTERM, unless `--shutdown-timeout` says otherwise. */
export const DEFAULT_SHUTDOWN_TIMEOUT_MS = 60_000;

/** How a drain ended: runs that finished on their own, and runs aborted at the deadline. */
export interface DrainResult {
  readonly finished: number;
  readonly aborted: number;
}

/** Something that can stop taking work and let its running work end: a scheduler, a server. */
export interface Drainable {
  /** Running work that a drain would wait for. */
  readonly running: number;
  /**
   * Takes no new work, lets the running work finish for up to `timeoutMs`, then aborts the rest
   * cleanly. Calling it again during a drain with 0 aborts now.
   */
  drain(timeoutMs: number): Promise<DrainResult>;
}

/**
 * Resolves after the first SIGTERM or SIGINT has drained `target` (for up to `timeoutMs`); a second
 * signal aborts the running work at once. Either way the process can then exit 0: it stopped as asked.
 */
export function drainOnSignals(target: Drainable, timeoutMs: number, logger: Logger, what: string): Promise<DrainResult> {
  return new Promise((resolve) => {
    let draining = false;
    const onSignal = (signal: NodeJS.Signals) => {
      if (draining) {
        logger.warn({ signal }, `aborting the running ${what} now`);
        void target.drain(0);
        return;
      }
      draining = true;
      logger.info({ signal, running: target.running, timeoutMs }, `draining: nothing new starts; ${target.running} running ${what} may finish within ${Math.round(timeoutMs / 1000)} s`);
      void target.drain(timeoutMs).then((result) => {
        logger.info(result, `drained: ${result.finished} finished, ${result.aborted} aborted`);
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
        resolve(result);
      });
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
