import { DEFAULT_CHECKPOINT_ROWS, type CheckpointOptions, notResumable } from '../core/checkpoints.ts';
import type { Pipeline } from '../core/define.ts';
import { defaultOutputPath } from '../core/describe.ts';
import { SluiceError } from '../core/errors.ts';
import { type LogLevel, type Logger, createLogger } from '../core/logger.ts';
import type { RunSummary } from '../core/metrics.ts';
import type { ParamSpecs, ParamValues } from '../core/params.ts';
import { openDatabase } from '../db/open.ts';
import type { PostgresOptions } from '../db/postgres-options.ts';
import { resolveDatabaseUrl } from '../db/url.ts';
import { checkOutputPath, outputForPath, writeFileAtomically } from '../sinks/file-output.ts';
import { removePartFilesNow } from '../sinks/atomic-file.ts';
import { INPUT_FORMATS, type InputFormat, inputForPath } from '../core/input.ts';
import { rejectsFile } from '../sinks/rejects-file.ts';
import { type Command, DATABASE_TIMEOUT_OPTIONS, DB_OPTION, LOG_LEVEL_OPTION, databaseOptions } from './command.ts';
import { type PipelineVerb, pipelineInvocation } from './pipeline-invocation.ts';
import type { Workspace } from './apps.ts';
import { formatSummary } from './format.ts';
import { osUser } from '../ops/run-id.ts';
import { DEFAULT_LEASE_SECONDS } from '../ops/run-lock.ts';
import { trackedRun } from '../ops/tracked-run.ts';

/** The options `run` adds to every pipeline's own parameters. */
export const RUN_OPTIONS = {
  db: DB_OPTION,
  out: { type: 'string', accepts: 'a file path, or - for stdout', description: 'Output file: a path (folders are created), or - for stdout; .gz compresses. Default: out/<pipeline>.<ext>' },
  metrics: { type: 'string', accepts: 'a file path', description: "Also write the run's metrics as JSON to this file" },
  in: { type: 'string', accepts: 'a file path, or - for stdin', description: 'Input file of a pipeline that reads one (an import); its extension gives the format (.csv, .ndjson, .jsonl, .xlsx)' },
  format: { type: 'enum', values: INPUT_FORMATS, description: "The input's format when its name does not say (stdin, another extension)" },
  rejects: { type: 'string', accepts: 'a file path', description: 'Write rejected input rows here as CSV: where, reason, values' },
  maxRejects: { type: 'integer', min: 0, description: 'Stop with exit 3 once more rows than this are rejected' },
  logLevel: LOG_LEVEL_OPTION,
  lock: {
    type: 'string',
    accepts: 'a lock name',
    description: "Run only if no other run holds this lock, else exit 75 (`--lock` alone: the pipeline's name; `--lock=NAME` to share one)",
  },
  lockLease: { type: 'integer', min: 1, max: 3600, default: DEFAULT_LEASE_SECONDS, description: 'SQLite: seconds a lock outlives a holder that died without releasing it' },
  history: { type: 'boolean', default: true, description: "Record the run in the database's sluice_runs table (--no-history: do not)" },
  parallel: { type: 'integer', min: 1, max: 16, default: 1, description: 'File exports without transforms: readers of key ranges in one snapshot, joined in key order (same bytes as 1)' },
  resume: { type: 'boolean', default: false, description: 'Continue an export to a file that a crash interrupted, from its last checkpoint (see Resume in the README)' },
  checkpointRows: {
    type: 'integer',
    min: 0,
    max: 100_000_000,
    default: DEFAULT_CHECKPOINT_ROWS,
    description: 'Rows between checkpoints of a resumable export to a file (0: none, one read of the whole export)',
  },
  ...DATABASE_TIMEOUT_OPTIONS,
} as const satisfies ParamSpecs;

export interface RunCommandOptions {
  /** Validated by the CLI (flags named as typed); the run validates them again. */
  readonly params: ParamValues;
  readonly db?: string;
  /** The database when neither --db nor DATABASE_URL names one: the app's. */
  readonly defaultDatabase?: string;
  readonly database?: PostgresOptions;
  readonly out?: string;
  /** Write the run's metrics as JSON here (success or failure). */
  readonly metrics?: string;
  /** The input file of an import (`-`: stdin), its format when the name does not say, where rejected rows go and how many may be. */
  readonly input?: { readonly path: string; readonly format?: InputFormat };
  /** Where rejected rows go (a CSV file) and how many may be. */
  readonly rejects?: { readonly path?: string; readonly max?: number };
  readonly logger: Logger;
  /** Run under this lock (exit 75 when another run holds it). */
  readonly lock?: { readonly name: string; readonly leaseMs: number };
  /** Record the run in sluice_runs (default true). */
  readonly history?: boolean;
  /** Parallel readers for a file export (default 1). */
  readonly parallel?: number;
  /** Checkpoints of a file export, and whether to resume one. */
  readonly checkpoints?: CheckpointOptions;
}

function writeMetrics(path: string | undefined, summary: RunSummary | undefined): void {
  if (path && summary) writeFileAtomically(path, `${JSON.stringify(summary, null, 2)}\n`);
}

/** `export-xlsx --out x.csv` writes a workbook under a CSV name: allowed, but said. */
function warnOnExtension(pipeline: Pipeline, out: string | undefined, logger: Logger): void {
  if (!out || out === '-' || pipeline.sink.type !== 'encoder') return;
  const expected = pipeline.sink.format.extension;
  const name = out.replace(/\.gz$/i, '');
  if (!name.toLowerCase().endsWith(`.${expected}`)) logger.warn({ out, format: expected }, `${pipeline.name} writes ${expected.toUpperCase()}, but --out ${out} does not end in .${expected}`);
}

/**
 * Runs a pipeline for the CLI: SIGINT/SIGTERM abort it cleanly (part file removed, connections
 * closed); a second signal exits at once, removing the part file first.
 */
export async function runCommand(pipeline: Pipeline, options: RunCommandOptions): Promise<number> {
  if (options.checkpoints?.resume && (options.out === '-' || pipeline.sink.type === 'writer')) {
    throw new SluiceError('USAGE', `--resume continues an export to a file; ${pipeline.sink.type === 'writer' ? `"${pipeline.name}" writes to the database` : 'stdout cannot be continued'}.`);
  }
  // Before any database is opened or any run recorded: the run would refuse the same way, later.
  const why = options.checkpoints?.resume ? notResumable(pipeline) : undefined;
  if (why) throw new SluiceError('USAGE', `Pipeline "${pipeline.name}" cannot resume: ${why}; run it again without --resume.`);
  if (options.out !== undefined && pipeline.sink.type === 'writer') {
    throw new SluiceError('USAGE', `Pipeline "${pipeline.name}" writes to the database; --out does not apply.`);
  }
  const out = options.out ?? defaultOutputPath(pipeline);
  // Paths are checked before any row is read: a directory at --out must not fail a long export at its end.
  if (out && out !== '-') checkOutputPath(out, '--out');
  if (options.metrics) checkOutputPath(options.metrics, '--metrics');
  if (options.rejects?.path) checkOutputPath(options.rejects.path, '--rejects');
  const input = options.input ? inputForPath(options.input.path, options.input.format) : undefined;
  warnOnExtension(pipeline, out, options.logger);
  const controller = new AbortController();
  const onSignal = (signal: NodeJS.Signals) => {
    if (controller.signal.aborted) {
      removePartFilesNow();
      process.exit(130);
    }
    options.logger.warn({ signal }, 'aborting: cleaning up (signal again to exit at once)');
    controller.abort(new SluiceError('ABORTED', `Aborted by ${signal}.`));
  };
  const database = openDatabase(resolveDatabaseUrl(options.db, options.defaultDatabase), { create: pipeline.createsDatabase, ...options.database });
  const rejected = options.rejects?.path === undefined ? undefined : rejectsFile(options.rejects.path);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const run = {
      params: options.params,
      database,
      output: out ? outputForPath(out) : undefined,
      input,
      rejects: { list: rejected, max: options.rejects?.max },
      signal: controller.signal,
      logger: options.logger,
      progressTty: process.stderr.isTTY ? process.stderr : undefined,
      parallel: options.parallel,
      checkpoints: options.checkpoints,
    };
    const summary = await trackedRun(pipeline, run, { trigger: 'cli', who: osUser(), history: options.history, lock: options.lock });
    writeMetrics(options.metrics, summary);
    options.logger.info({ summary }, formatSummary(summary));
    return 0;
  } catch (error) {
    if (error instanceof SluiceError) {
      writeMetrics(options.metrics, error.summary);
      if (error.summary && error.summary.rows > 0 && error.code !== 'OUTPUT_CLOSED') options.logger.error({ summary: error.summary }, 'run failed');
    }
    throw error;
  } finally {
    rejected?.close();
    await database.close();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

const RUN_VERB: PipelineVerb = {
  verb: 'run',
  summary: 'Runs a pipeline. Its parameters are flags: `sluice run <pipeline> --help` lists them.',
  options: RUN_OPTIONS,
  rewrite: (word, pipeline) => (word === '--lock' ? `--lock=${pipeline.name}` : word),
};

/** `sluice run <pipeline>`: the pipeline's parameters and RUN_OPTIONS as flags, in any order. */
export function runCli(ws: Workspace): Command {
  const { pipelines } = ws;
  return {
    name: 'run',
    arguments: '<pipeline> [parameters]',
    summary: RUN_VERB.summary,
    options: RUN_OPTIONS,
    async run(args) {
      const invoked = pipelineInvocation(RUN_VERB, args, pipelines);
      if (!invoked) return 0;
      const { pipeline, line } = invoked;
      const { db, out, metrics, logLevel, lock, lockLease, history, parallel, resume, checkpointRows, connectTimeout, stallTimeout, statementTimeout, in: inPath, format, rejects, maxRejects, ...params } = line.options;
      const given = Object.fromEntries(Object.entries(params).filter(([key]) => Object.hasOwn(line.values, key)));
      return runCommand(pipeline, {
        params: given,
        db: db as string | undefined,
        defaultDatabase: ws.defaultDatabase,
        database: databaseOptions({ connectTimeout, stallTimeout, statementTimeout }),
        out: out as string | undefined,
        metrics: metrics as string | undefined,
        input: inPath === undefined ? undefined : { path: inPath as string, format: format as InputFormat | undefined },
        rejects: { path: rejects as string | undefined, max: maxRejects as number | undefined },
        logger: createLogger(logLevel as LogLevel),
        lock: typeof lock === 'string' ? { name: lock, leaseMs: (lockLease as number) * 1000 } : undefined,
        history: history as boolean,
        parallel: parallel as number,
        checkpoints: { everyRows: checkpointRows as number, resume: resume as boolean },
      });
    },
  };
}
