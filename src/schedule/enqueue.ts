import { resolve } from 'node:path';
import { newRunId, osUser } from '../ops/run-id.ts';
import type { QueuedRun, RunQueue } from '../queue/run-queue.ts';
import type { Job } from './config.ts';
import { expandPlaceholders } from './placeholders.ts';

/** A queued job's expiry when it sets no timeoutSeconds: an hour, as `sluice submit`'s default. */
const DEFAULT_EXPIRE_SECONDS = 3600;

/**
 * Submits one fire of a `"via": "queue"` job for the workers; undefined when the previous fire's
 * job still waits or runs (the fire is skipped). The run also takes the job's lock on its worker,
 * so two schedulers that submit at once still never run it twice at the same time.
 */
export async function enqueueJob(queue: RunQueue, job: Job, at: Date, defaultDatabase: string | undefined): Promise<string | undefined> {
  if (await queue.pending(job.lock)) return undefined;
  const sink = job.pipeline.sink;
  const runId = newRunId(at);
  const out = job.out && sink.type === 'encoder' ? expandPlaceholders(job.out, { name: job.name, pipeline: job.pipeline.name, runId, ext: sink.format.extension, at, timezone: job.timezone }) : undefined;
  const params = Object.fromEntries(Object.entries(job.params).filter(([, value]) => value !== undefined)) as QueuedRun['params'];
  const db = job.db ?? defaultDatabase;
  const run: QueuedRun = {
    pipeline: job.pipeline.name,
    params,
    ...(db === undefined ? {} : { db }),
    ...(out === undefined ? {} : { out: resolve(out) }),
    submittedBy: osUser(),
    job: job.name,
    lock: job.lock,
    ...(job.partitions === undefined ? {} : { partitions: job.partitions }),
  };
  return queue.submit(run, { retries: job.retries, expireSeconds: job.timeoutMs === undefined ? DEFAULT_EXPIRE_SECONDS : Math.ceil(job.timeoutMs / 1000), key: job.lock });
}
