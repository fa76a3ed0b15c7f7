import yargs, { type Argv } from 'yargs';
import type { Pipeline } from '../core/define.ts';
import { SluiceError, toSluiceError } from '../core/errors.ts';
import { LOG_LEVELS, createLogger, type LogLevel } from '../core/logger.ts';
import { getPipeline, loadPipelines } from '../core/registry.ts';
import { dbInitCommand } from './commands/db-init.ts';
import { demoCommand } from './commands/demo.ts';
import { describeText } from './commands/describe.ts';
import { listText } from './commands/list.ts';
import { runCommand } from './commands/run.ts';
import { paramOptions, paramValues } from './param-options.ts';

/** The pipeline named after `run`, so that `run <pipeline> --help` can list its parameters. */
function pipelineArgument(args: readonly string[]): string | undefined {
  const at = args.indexOf('run');
  return at < 0 ? undefined : args.slice(at + 1).find((a) => !a.startsWith('-'));
}

const DB_OPTION = { type: 'string', describe: 'Database URL: sqlite:path.db, path.db or postgres://... (default: $DATABASE_URL, else sqlite:data/raffle.db)' } as const;

function buildCli(args: string[], pipelines: ReadonlyMap<string, Pipeline>, setExit: (code: number) => void): Argv {
  const selected = pipelines.get(pipelineArgument(args) ?? '');
  const write = (text: string): void => void process.stdout.write(text);
  return yargs(args)
    .scriptName('sluice')
    .usage('$0 <command>\n\nStreaming ETL pipelines: database to CSV/TSV/TXT/XLSX in flat memory.')
    .command('list', 'List the pipelines', {}, () => write(listText(pipelines)))
    .command('describe <pipeline>', 'Show a pipeline: parameters, defaults, output', {}, async (argv) => {
      write(describeText(await getPipeline(String(argv.pipeline))));
    })
    .command(
      'run <pipeline>',
      'Run a pipeline (`sluice run <pipeline> --help` lists its parameters)',
      (y) =>
        y
          .positional('pipeline', { type: 'string', describe: 'Pipeline name (see `sluice list`)' })
          .options(selected ? paramOptions(selected.allParams) : {})
          .options({
            db: DB_OPTION,
            out: { type: 'string', describe: 'Output file (`-` for stdout; `.gz` compresses). Default: out/<pipeline>.<ext>' },
            metrics: { type: 'string', describe: 'Also write the run metrics as JSON to this file' },
            'log-level': { choices: LOG_LEVELS, default: 'info' as LogLevel, describe: 'Log level (logs go to stderr)' },
          }),
      async (argv) => {
        const pipeline = await getPipeline(String(argv.pipeline));
        const logger = createLogger(argv.logLevel as LogLevel);
        const params = paramValues(pipeline.allParams, argv);
        setExit(await runCommand(pipeline, { params, db: argv.db, out: argv.out, metrics: argv.metrics, logger }));
      },
    )
    .command(
      'db <action>',
      'Database tasks: `db init` creates the tickets table',
      (y) => y.positional('action', { choices: ['init'] as const, describe: 'init: create the tickets table (idempotent)' }).option('db', DB_OPTION),
      async (argv) => write(await dbInitCommand(argv.db)),
    )
    .command(
      'demo',
      'Seed demo tickets into data/raffle.db and run every export pipeline, printing a table',
      (y) => y.options({ rows: { type: 'number', default: 100_000, describe: 'Tickets to seed' }, db: DB_OPTION }),
      async (argv) => setExit(await demoCommand({ rows: argv.rows, db: argv.db, pipelines })),
    )
    .command(
      'serve',
      'Serve the admin export endpoints over HTTP (token from $ADMIN_TOKEN, else generated and printed)',
      (y) =>
        y.options({
          port: { type: 'number', default: 3000, describe: 'Port to listen on (0: any free port)' },
          host: { type: 'string', default: '127.0.0.1', describe: 'Address to listen on' },
          db: DB_OPTION,
          'max-concurrent': { type: 'number', default: 4, describe: 'Exports running at once; more get 503 with Retry-After' },
          'log-level': { choices: LOG_LEVELS, default: 'info' as LogLevel, describe: 'Log level (logs go to stderr)' },
        }),
      async (argv) => {
        const logger = createLogger(argv.logLevel as LogLevel);
        // The HTTP server's modules load only for `serve`: every other command starts faster.
        const { serveCommand } = await import('./commands/serve.ts');
        setExit(await serveCommand({ port: argv.port, host: argv.host, db: argv.db, maxConcurrent: argv.maxConcurrent, logger }));
      },
    )
    .demandCommand(1, 'Name a command: list, describe, run, serve, db init, demo.')
    .strict()
    .recommendCommands()
    .help()
    .version(false)
    .wrap(Math.min(120, process.stdout.columns ?? 100))
    .exitProcess(false)
    .fail((message, error) => {
      throw error ?? new SluiceError('USAGE', `${message} (see \`sluice --help\`)`);
    });
}

/** yargs reads a lone `-` as a positional; `--out -` means stdout. */
function normalizeArgs(args: readonly string[]): string[] {
  const normalized: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--out' && args[i + 1] === '-') normalized.push('--out=-'), i++;
    else normalized.push(args[i]!);
  }
  return normalized;
}

/** The CLI entry point: returns the process exit code. Errors print as one line on stderr. */
export async function main(rawArgs: string[]): Promise<number> {
  const args = normalizeArgs(rawArgs);
  let exitCode = 0;
  try {
    const pipelines = await loadPipelines();
    await buildCli(args, pipelines, (code) => (exitCode = code)).parseAsync();
    return exitCode;
  } catch (error) {
    const failure = toSluiceError(error);
    if (failure.code !== 'OUTPUT_CLOSED') process.stderr.write(`sluice: ${failure.message}\n`);
    if (failure.code === 'INTERNAL' && process.env.SLUICE_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    return failure.exitCode;
  }
}
