import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { Cron } from 'croner';
import { parse as parseYaml } from 'yaml';
import type { Pipeline } from '../core/define.ts';
import { SluiceError } from '../core/errors.ts';
import { type ParamValues, parseParams } from '../core/params.ts';
import { notPartitionable } from '../core/run.ts';
import type { PipelineSet } from '../core/registry.ts';
import { didYouMean } from '../core/suggest.ts';
import { parseDatabaseUrl } from '../db/url.ts';
import { DEFAULT_LEASE_SECONDS } from '../ops/run-lock.ts';
import { checkSnapshotDatabase } from '../queue/partition-job.ts';
import { unknownPlaceholders } from './placeholders.ts';

/** One scheduled job, validated. */
export interface Job {
  readonly name: string;
  readonly cron: string;
  readonly timezone: string;
  readonly pipeline: Pipeline;
  /** Validated by the pipeline's own parameter specs, as for the CLI and HTTP. */
  readonly params: ParamValues;
  /** The job's database URL; undefined: the scheduler's default. */
  readonly db: string | undefined;
  /** Output path template (encoder pipelines). */
  readonly out: string | undefined;
  readonly timeoutMs: number | undefined;
  readonly retries: number;
  readonly backoffMs: number;
  /** The lock that keeps fires of this job from overlapping, across processes. */
  readonly lock: string;
  /** `process`: the scheduler runs it; `queue`: it is submitted to the job queue for `sluice worker`s. */
  readonly via: 'process' | 'queue';
  /** With `via: queue`: cut each run into this many partitions (see `sluice submit --partitions`). */
  readonly partitions: number | undefined;
}

export interface ScheduleConfig {
  readonly jobs: readonly Job[];
  readonly lockLeaseMs: number;
  /** The job queue's PostgreSQL URL (`"queue"`), for jobs `"via": "queue"`. */
  readonly queue: string | undefined;
}

const TOP_KEYS = ['jobs', 'timezone', 'lockLeaseSeconds', 'queue'] as const;
const JOB_KEYS = ['name', 'cron', 'timezone', 'pipeline', 'params', 'db', 'out', 'timeoutSeconds', 'retries', 'lock', 'via', 'partitions'] as const;
const RETRY_KEYS = ['count', 'backoffSeconds'] as const;
const JOB_NAME = /^[A-Za-z0-9][\w.-]{0,99}$/;
export const DEFAULT_OUT = 'out/{name}-{date}T{time}.{ext}';
const DEFAULT_BACKOFF_SECONDS = 30;

type Raw = Readonly<Record<string, unknown>>;

function isObject(value: unknown): value is Raw {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function unknownKey(raw: Raw, known: readonly string[]): string | undefined {
  const key = Object.keys(raw).find((k) => !known.includes(k));
  return key === undefined ? undefined : `unknown field "${key}".${didYouMean(key, known)} Known fields: ${known.join(', ')}.`;
}

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function wholeNumber(value: unknown, min: number, max: number): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : undefined;
}

/** Collects one job's errors, each naming the job and the field. */
class JobCheck {
  readonly errors: string[] = [];
  constructor(readonly label: string) {}

  fail(field: string, message: string): undefined {
    this.errors.push(`${this.label}: "${field}": ${message}`);
    return undefined;
  }

  /** Runs a check that throws; its message becomes the field's error. */
  attempt<T>(field: string, check: () => T): T | undefined {
    try {
      return check();
    } catch (error) {
      return this.fail(field, (error as Error).message);
    }
  }
}

function checkCron(check: JobCheck, cron: unknown, timezone: string): string | undefined {
  if (typeof cron !== 'string' || cron.trim() === '') return check.fail('cron', 'must be a cron expression such as "0 2 * * *" (or with seconds, "*/10 * * * * *").');
  return check.attempt('cron', () => {
    new Cron(cron, { timezone, paused: true }).stop();
    return cron;
  });
}

function checkRetries(check: JobCheck, retries: unknown): { retries: number; backoffMs: number } {
  if (retries === undefined) return { retries: 0, backoffMs: DEFAULT_BACKOFF_SECONDS * 1000 };
  const raw: Raw = typeof retries === 'number' ? { count: retries } : isObject(retries) ? retries : {};
  if (typeof retries !== 'number' && !isObject(retries)) check.fail('retries', 'must be a number of retries, or { "count": n, "backoffSeconds": s }.');
  const extra = unknownKey(raw, RETRY_KEYS);
  if (extra) check.fail('retries', extra);
  const count = wholeNumber(raw.count, 0, 10) ?? check.fail('retries.count', 'must be a whole number from 0 to 10.');
  const backoff = raw.backoffSeconds === undefined ? DEFAULT_BACKOFF_SECONDS : wholeNumber(raw.backoffSeconds, 1, 86_400) ?? check.fail('retries.backoffSeconds', 'must be a whole number of seconds from 1 to 86400.');
  return { retries: count ?? 0, backoffMs: (backoff ?? DEFAULT_BACKOFF_SECONDS) * 1000 };
}

function checkOut(check: JobCheck, out: unknown, pipeline: Pipeline | undefined): string | undefined {
  if (pipeline?.sink.type === 'writer') return out === undefined ? undefined : check.fail('out', `pipeline "${pipeline.name}" writes to the database; it has no output file.`);
  if (out === undefined) return DEFAULT_OUT;
  if (typeof out !== 'string' || out === '' || out === '-') return check.fail('out', 'must be a file path (placeholders: {name}, {pipeline}, {date}, {time}, {runId}, {ext}).');
  const unknown = unknownPlaceholders(out);
  if (unknown.length) return check.fail('out', `unknown placeholder {${unknown[0]}} (known: {name}, {pipeline}, {date}, {time}, {runId}, {ext}).`);
  return out;
}

/** `partitions`: only for a queued job whose pipeline can be cut into key ranges, on PostgreSQL. */
function checkPartitions(check: JobCheck, raw: unknown, job: { via: string | undefined; pipeline: Pipeline | undefined; db: string | undefined }): number | undefined {
  if (raw === undefined) return undefined;
  const count = wholeNumber(raw, 1, 64) ?? check.fail('partitions', 'must be a whole number from 1 to 64.');
  if (count === undefined || count === 1) return undefined;
  if (job.via !== 'queue') return check.fail('partitions', 'needs "via": "queue": the partitions are run by `sluice worker` processes.');
  const why = job.pipeline && notPartitionable(job.pipeline);
  if (why) return check.fail('partitions', `pipeline "${job.pipeline!.name}" cannot run in partitions: ${why}.`);
  if (job.db !== undefined && check.attempt('partitions', () => (checkSnapshotDatabase(job.db!), true)) === undefined) return undefined;
  return count;
}

function checkJob(raw: unknown, index: number, pipelines: PipelineSet, defaultZone: string): { job?: Job; errors: string[] } {
  const named = isObject(raw) && typeof raw.name === 'string' ? `job "${raw.name}"` : `jobs[${index}]`;
  const check = new JobCheck(named);
  if (!isObject(raw)) return { errors: [`jobs[${index}]: must be an object with name, cron and pipeline.`] };
  const extra = unknownKey(raw, JOB_KEYS);
  if (extra) check.errors.push(`${named}: ${extra}`);
  const name = typeof raw.name === 'string' && JOB_NAME.test(raw.name) ? raw.name : check.fail('name', 'must be a name of letters, digits, ".", "_" or "-" (at most 100).');
  const timezone = raw.timezone === undefined ? defaultZone : typeof raw.timezone === 'string' && isTimeZone(raw.timezone) ? raw.timezone : check.fail('timezone', 'must be an IANA time zone such as "Europe/Paris" or "UTC".');
  const cron = checkCron(check, raw.cron, timezone ?? 'UTC');
  const pipeline = typeof raw.pipeline === 'string' ? check.attempt('pipeline', () => pipelineOf(pipelines, raw.pipeline as string)) : check.fail('pipeline', 'must name a pipeline (`sluice list` shows them).');
  const givenParams = raw.params === undefined ? {} : isObject(raw.params) ? raw.params : check.fail('params', 'must be an object of parameter values.');
  const params = pipeline && givenParams ? check.attempt('params', () => parseParams(pipeline.allParams, givenParams, { label: (p) => `"params.${p}"` })) : undefined;
  const db = raw.db === undefined ? undefined : typeof raw.db === 'string' ? check.attempt('db', () => (parseDatabaseUrl(raw.db as string), raw.db as string)) : check.fail('db', 'must be a database URL.');
  const out = checkOut(check, raw.out, pipeline);
  const timeoutSeconds = raw.timeoutSeconds === undefined ? undefined : wholeNumber(raw.timeoutSeconds, 1, 7 * 86_400) ?? check.fail('timeoutSeconds', 'must be a whole number of seconds from 1 to 604800.');
  const { retries, backoffMs } = checkRetries(check, raw.retries);
  const lock = raw.lock === undefined ? `job:${name}` : typeof raw.lock === 'string' && raw.lock !== '' ? raw.lock : check.fail('lock', 'must be a lock name.');
  const via = raw.via === undefined || raw.via === 'process' ? 'process' : raw.via === 'queue' ? 'queue' : check.fail('via', 'must be "process" (the scheduler runs it) or "queue" (sluice worker processes run it).');
  const partitions = checkPartitions(check, raw.partitions, { via, pipeline, db });
  if (check.errors.length || !name || !cron || !timezone || !pipeline || !params || !lock || !via) return { errors: check.errors };
  return { job: { name, cron, timezone, pipeline, params, db, out, timeoutMs: timeoutSeconds && timeoutSeconds * 1000, retries, backoffMs, lock, via, partitions }, errors: [] };
}

function pipelineOf(pipelines: PipelineSet, name: string): Pipeline {
  const pipeline = pipelines.get(name);
  if (pipeline) return pipeline;
  throw new Error(`no pipeline "${name}".${didYouMean(name, pipelines.keys())} \`sluice list\` shows them.`);
}

/** Reads a schedule file: JSON, or YAML for `.yaml`/`.yml`. */
function readConfigFile(path: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new SluiceError('USAGE', `Cannot read the schedule ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    return /^\.ya?ml$/i.test(extname(path)) ? parseYaml(text) : JSON.parse(text);
  } catch (error) {
    throw new SluiceError('USAGE', `${path} is not valid ${/^\.ya?ml$/i.test(extname(path)) ? 'YAML' : 'JSON'}: ${(error as Error).message}`, { cause: error });
  }
}

/**
 * The whole schedule, validated before anything is scheduled: every error at once, each naming
 * the job and the field (`job "nightly": "params.status": Invalid value ...`).
 */
export function validateSchedule(raw: unknown, pipelines: PipelineSet, source = 'the schedule', queueFromEnvironment = false): ScheduleConfig {
  if (!isObject(raw)) throw new SluiceError('USAGE', `${source}: must be an object with a "jobs" list.`);
  const errors: string[] = [];
  const extra = unknownKey(raw, TOP_KEYS);
  if (extra) errors.push(extra);
  const zone = raw.timezone === undefined ? 'UTC' : typeof raw.timezone === 'string' && isTimeZone(raw.timezone) ? raw.timezone : (errors.push('"timezone": must be an IANA time zone such as "Europe/Paris" or "UTC".'), 'UTC');
  const lease = raw.lockLeaseSeconds === undefined ? DEFAULT_LEASE_SECONDS : wholeNumber(raw.lockLeaseSeconds, 1, 3600) ?? (errors.push('"lockLeaseSeconds": must be a whole number of seconds from 1 to 3600.'), DEFAULT_LEASE_SECONDS);
  if (!Array.isArray(raw.jobs) || raw.jobs.length === 0) errors.push('"jobs": must be a non-empty list of jobs.');
  const jobs: Job[] = [];
  for (const [index, entry] of (Array.isArray(raw.jobs) ? raw.jobs : []).entries()) {
    const checked = checkJob(entry, index, pipelines, zone);
    errors.push(...checked.errors);
    if (!checked.job) continue;
    if (jobs.some((job) => job.name === checked.job!.name)) errors.push(`job "${checked.job.name}": "name": two jobs have this name.`);
    jobs.push(checked.job);
  }
  const queue = raw.queue === undefined ? undefined : typeof raw.queue === 'string' && /^postgres(ql)?:\/\//i.test(raw.queue) ? raw.queue : (errors.push('"queue": must be the job queue\'s postgres:// URL.'), undefined);
  if (queue === undefined && !queueFromEnvironment) for (const job of jobs.filter((j) => j.via === 'queue')) errors.push(`job "${job.name}": "via": "queue" needs the job queue: "queue": "postgres://..." at the top of the file, or --queue-db / SLUICE_QUEUE_URL.`);
  if (errors.length) throw new SluiceError('USAGE', `${source} has ${errors.length === 1 ? 'an error' : `${errors.length} errors`}:\n  ${errors.join('\n  ')}`);
  return { jobs, lockLeaseMs: lease * 1000, queue };
}

/** `queueFromEnvironment`: --queue-db or SLUICE_QUEUE_URL names the queue, so the file need not. */
export function loadSchedule(path: string, pipelines: PipelineSet, queueFromEnvironment = false): ScheduleConfig {
  return validateSchedule(readConfigFile(path), pipelines, path, queueFromEnvironment);
}
