import { resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Pipeline } from '../core/define.ts';
import { SluiceError } from '../core/errors.ts';
import { notPartitionable } from '../core/run.ts';
import { checkSnapshotDatabase } from '../queue/partition-job.ts';
import type { ParamSpecs, ParamValues } from '../core/params.ts';
import { osUser } from '../ops/run-id.ts';
import type { QueueJob, QueuedRun, QueuedRunResult, RunQueue } from '../queue/run-queue.ts';
import type { Workspace } from './apps.ts';
import { type Command, DB_OPTION, QUEUE_DB_OPTION } from './command.ts';
import { pipelineInvocation } from './pipeline-invocation.ts';
import { groupDigits } from '../core/group-digits.ts';

export const SUBMIT_OPTIONS = {
  queueDb: QUEUE_DB_OPTION,
  db: { ...DB_OPTION, description: "The run's database, as the workers reach it (default: the worker's)" },
  out: { type: 'string', accepts: 'a file path', description: "Output file, on storage every worker shares (made absolute here). Default: the pipeline's default, in the worker's folder" },
  partitions: {
    type: 'integer',
    min: 1,
    max: 64,
    default: 1,
    description: 'Cut a file export into this many key ranges of one PostgreSQL snapshot, run by any workers and joined in key order (same bytes as one run)',
  },
  wait: { type: 'boolean', default: false, description: 'Follow the run until it ends and exit with its status (0 succeeded, 3 refused, 1 failed)' },
  retries: { type: 'integer', min: 0, max: 20, default: 2, description: 'Attempts after the first when a run fails for a reason a retry may cure (a worker killed, a database gone)' },
  expire: { type: 'integer', min: 10, max: 82_800, default: 3600, description: 'Seconds a run may take before its job is taken as lost (its worker died) and retried' },
  json: { type: 'boolean', default: false, description: 'Print the job (and with --wait its result) as JSON' },
} as const satisfies ParamSpecs;

const SUBMIT_SUMMARY = 'Queues a pipeline run for `sluice worker` processes (pg-boss on PostgreSQL). Its parameters are flags, checked here.';

/** Only the parameters given, as JSON values: the worker applies the defaults of its own copy of the pipeline. */
function givenParams(values: ParamValues, given: Readonly<Record<string, unknown>>): QueuedRun['params'] {
  return Object.fromEntries(Object.entries(values).filter(([key, value]) => Object.hasOwn(given, key) && value !== undefined)) as QueuedRun['params'];
}

function isDone(job: QueueJob): boolean {
  return job.state === 'completed' || job.state === 'failed' || job.state === 'cancelled';
}

/** The run's outcome from a finished job: a completed job carries the run's result; a failed one pg-boss's record of the error. */
export function outcomeOf(job: QueueJob): { readonly exitCode: number; readonly line: string } {
  const result = job.output as QueuedRunResult | null;
  if (job.state === 'completed' && result && 'status' in result) {
    if (result.status === 'succeeded') return { exitCode: 0, line: `succeeded: ${groupDigits(result.rows)} rows${result.output ? ` -> ${result.output}` : ''} (run ${result.runId})` };
    return { exitCode: result.status === 'refused' ? 3 : 1, line: `${result.status}: ${result.error?.message ?? ''} (run ${result.runId})` };
  }
  const message = (job.output as { message?: string } | null)?.message ?? job.state;
  return { exitCode: 1, line: `${job.state} after ${job.retryCount + 1} attempt(s): ${message}` };
}

async function follow(queue: RunQueue, id: string, json: boolean): Promise<number> {
  let last = '';
  for (;;) {
    const job = await queue.job(id);
    if (!job) throw new SluiceError('INTERNAL', `Job ${id} is gone from the queue.`);
    const state = `${job.state}${job.retryCount ? ` (retry ${job.retryCount})` : ''}`;
    if (state !== last && !json) process.stderr.write(`job ${id}: ${state}\n`);
    last = state;
    if (isDone(job)) {
      const outcome = outcomeOf(job);
      process.stdout.write(json ? `${JSON.stringify({ id, state: job.state, attempts: job.retryCount + 1, result: job.output })}\n` : `${outcome.line}\n`);
      return outcome.exitCode;
    }
    await sleep(500);
  }
}

async function submit(pipeline: Pipeline, run: QueuedRun, options: ParamValues): Promise<number> {
  const { RunQueue, queueUrl } = await import('../queue/run-queue.ts');
  const queue = await RunQueue.open(queueUrl(options.queueDb as string | undefined), { supervise: false });
  try {
    const id = await queue.submit(run, { retries: options.retries as number, expireSeconds: options.expire as number });
    if (options.json && !options.wait) process.stdout.write(`${JSON.stringify({ id, pipeline: pipeline.name, params: run.params })}\n`);
    else process.stderr.write(`submitted ${pipeline.name} as job ${id}\n`);
    if (!options.json && !options.wait) process.stdout.write(`${id}\n`);
    return options.wait ? await follow(queue, id, options.json as boolean) : 0;
  } finally {
    await queue.close();
  }
}

/** `--partitions N` needs an export that can be cut into key ranges, to a file every worker reaches. */
function checkPartitionable(pipeline: Pipeline, out: string | undefined, db: string | undefined): void {
  const why = notPartitionable(pipeline);
  if (why) throw new SluiceError('USAGE', `Pipeline "${pipeline.name}" cannot run in partitions: ${why}. Submit it without --partitions.`);
  if (pipeline.sink.type === 'encoder' && (out === undefined || out === '-')) throw new SluiceError('USAGE', '--partitions needs --out: a file path on storage every worker shares (the parts are written beside it).');
  if (db !== undefined) checkSnapshotDatabase(db);
}

/** `sluice submit <pipeline>`: the pipeline's parameters and SUBMIT_OPTIONS as flags, as for `run`. */
export function submitCli(ws: Workspace): Command {
  const { pipelines } = ws;
  return {
    name: 'submit',
    arguments: '<pipeline> [parameters]',
    summary: SUBMIT_SUMMARY,
    options: SUBMIT_OPTIONS,
    async run(args) {
      const invoked = pipelineInvocation({ verb: 'submit', summary: SUBMIT_SUMMARY, options: SUBMIT_OPTIONS }, args, pipelines);
      if (!invoked) return 0;
      const { pipeline, line } = invoked;
      const { queueDb, db, out, partitions, wait, retries, expire, json, ...params } = line.options;
      if (out !== undefined && pipeline.sink.type === 'writer') throw new SluiceError('USAGE', `Pipeline "${pipeline.name}" writes to the database; --out does not apply.`);
      if ((partitions as number) > 1) checkPartitionable(pipeline, out as string | undefined, db as string | undefined);
      const run: QueuedRun = {
        pipeline: pipeline.name,
        params: givenParams(params, line.values),
        ...(db === undefined ? {} : { db: db as string }),
        ...(out === undefined ? {} : { out: out === '-' ? out : resolve(out as string) }),
        submittedBy: osUser(),
        ...((partitions as number) > 1 ? { partitions: partitions as number } : {}),
      };
      if (run.out === '-') throw new SluiceError('USAGE', 'A queued run cannot write to stdout: give --out a file path on storage the workers share.');
      return submit(pipeline, run, { queueDb, wait, retries, expire, json });
    },
  };
}
