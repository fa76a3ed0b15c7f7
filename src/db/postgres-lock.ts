import type pg from 'pg';
import type { HeldLock } from '../core/database.ts';
import { SluiceError } from '../core/errors.ts';
import { translateDbError } from './errors.ts';

/** Advisory lock keys are 64-bit: the name is hashed by the server, in a namespace of sluice's own. */
const KEY = "hashtextextended('sluice:' || $1, 0)";

/**
 * A session-level advisory lock on a pooled client taken for the lock's whole life: the server
 * releases it when that connection ends, so a holder killed with SIGKILL never blocks anyone.
 */
export async function advisoryLock(pool: pg.Pool, label: string, name: string): Promise<HeldLock | undefined> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw translateDbError(error, label);
  }
  let locked = false;
  try {
    const result = await client.query<{ locked: boolean }>(`SELECT pg_try_advisory_lock(${KEY}) AS locked`, [name]);
    locked = result.rows[0]?.locked === true;
  } catch (error) {
    client.release(true);
    throw translateDbError(error, label);
  }
  if (!locked) {
    client.release();
    return undefined;
  }
  const lost = new AbortController();
  const onError = (error: Error) => lost.abort(new SluiceError('CONNECTION_LOST', `Lost the lock "${name}": the connection to ${label} dropped (${error.message}).`, { cause: error }));
  client.on('error', onError);
  let released = false;
  return {
    lost: lost.signal,
    async release() {
      if (released) return;
      released = true;
      client.off('error', onError);
      if (lost.signal.aborted) return client.release(true);
      try {
        await client.query(`SELECT pg_advisory_unlock(${KEY})`, [name]);
        client.release();
      } catch {
        // Ending the connection releases the lock all the same.
        client.release(true);
      }
    },
  };
}
