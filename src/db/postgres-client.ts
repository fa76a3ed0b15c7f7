import type pg from 'pg';

/** pg sets `processID` on every connected client; its typings omit it. */
export function backendPid(client: pg.PoolClient): number {
  return (client as unknown as { processID: number }).processID;
}

/** Errors of a client being discarded: the run has already failed or finished. */
export function ignoreLateErrors(): void {}
