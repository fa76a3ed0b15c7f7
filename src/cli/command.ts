import { SluiceError } from '../core/errors.ts';
import { DEFAULT_SHUTDOWN_TIMEOUT_MS } from '../ops/shutdown.ts';
import { POSTGRES_DEFAULTS, type PostgresOptions } from '../db/postgres-options.ts';
import { LOG_LEVELS, type LogLevel } from '../core/logger.ts';
import { type ParamSpecs, type ParamValues, describeExpected, parseParams } from '../core/params.ts';
import { type CommandLine, flagLabel, flagName, readArgs } from './args.ts';
import { formatTable } from './format.ts';

/** A CLI command: its options are parameter specs, read and validated by the pipelines' own code. */
export interface Command {
  /** As typed after `sluice`: `run`, `db init`. */
  readonly name: string;
  readonly summary: string;
  /** `<pipeline>`, `[<id>]`: what follows the name in the usage line. */
  readonly arguments?: string;
  readonly options: ParamSpecs;
  /** Text after the options in `--help`. */
  readonly notes?: string;
  /** Runs with the words after the command's name; resolves to the exit code. */
  run(args: readonly string[]): Promise<number>;
}

/** What a simple command declares; `defineCommand` adds reading, validation and `--help`. */
export interface CommandSpec extends Omit<Command, 'run'> {
  /** The positional words the command takes (beyond them is a usage error). */
  readonly maxPositionals?: number;
  action(invocation: Invocation): Promise<number>;
}

/** A command's validated options (defaults applied) and its positional words. */
export interface Invocation {
  readonly positionals: readonly string[];
  readonly options: ParamValues;
}

export const DB_OPTION = {
  type: 'string',
  accepts: 'a database URL',
  description: 'Database URL: sqlite:path.db, path.db or postgres://user@host:port/db (default: $DATABASE_URL, else the default database of the app)',
} as const;

const seconds = (description: string, fallback: number, max = 86_400) => ({ type: 'integer', min: 0, max, default: fallback, description }) as const;

/** How long to wait on a database, for every command that opens one (PostgreSQL; SQLite waits on locks for 5 s). */
export const DATABASE_TIMEOUT_OPTIONS = {
  connectTimeout: seconds('Seconds to wait for a connection to PostgreSQL', POSTGRES_DEFAULTS.connectTimeoutMs / 1000, 3600),
  stallTimeout: seconds('Seconds a streaming read may receive nothing from PostgreSQL before it fails (0: never)', POSTGRES_DEFAULTS.stallTimeoutMs / 1000),
  statementTimeout: seconds('Seconds a short statement (a count, a page, a batch write) may run on PostgreSQL (0: no limit)', POSTGRES_DEFAULTS.statementTimeoutMs / 1000),
} as const satisfies ParamSpecs;

/** The database options from a command's validated flags. */
export function databaseOptions(options: ParamValues): PostgresOptions {
  return {
    connectTimeoutMs: (options.connectTimeout as number) * 1000,
    stallTimeoutMs: (options.stallTimeout as number) * 1000,
    statementTimeoutMs: (options.statementTimeout as number) * 1000,
  };
}

export const QUEUE_DB_OPTION = {
  type: 'string',
  accepts: 'a postgres:// URL',
  description: "The job queue's PostgreSQL database (pg-boss, schema sluice_queue; default: $SLUICE_QUEUE_URL, else a PostgreSQL $DATABASE_URL)",
} as const;

/** `--metrics-port`/`--metrics-host` of the processes without the HTTP server (schedule, worker). */
export const METRICS_OPTIONS = {
  metricsPort: { type: 'integer', min: 0, max: 65_535, description: 'Serve /healthz and /metrics on this port (0: any free port)' },
  metricsHost: { type: 'string', accepts: 'an address', default: '127.0.0.1', description: 'Address for --metrics-port' },
} as const satisfies ParamSpecs;

/** `--shutdown-timeout` of the long-running commands (serve, schedule). */
export function shutdownTimeoutOption(what: string) {
  return { type: 'integer', min: 0, max: 86_400, default: DEFAULT_SHUTDOWN_TIMEOUT_MS / 1000, description: `On SIGTERM, seconds ${what} may take to finish before they are aborted (a second signal: at once)` } as const;
}

export const LOG_LEVEL_OPTION = { type: 'enum', values: LOG_LEVELS, default: 'info' satisfies LogLevel, description: 'Log level (logs are JSON lines on stderr)' } as const;

/** Reads and validates a command's arguments: flags named as typed in every error. */
export function invocation(helpCommand: string, args: readonly string[], specs: ParamSpecs): CommandLine & Invocation {
  const line = readArgs(args, specs, { helpCommand });
  const options = line.help ? {} : parseParams(specs, line.values, { label: flagLabel });
  return { ...line, options };
}

export function defineCommand(spec: CommandSpec): Command {
  const command: Command = {
    ...spec,
    async run(args) {
      const line = invocation(`sluice ${spec.name} --help`, args, spec.options);
      if (line.help) {
        process.stdout.write(commandHelp(command));
        return 0;
      }
      const extra = line.positionals[spec.maxPositionals ?? 0];
      if (extra !== undefined) throw new SluiceError('USAGE', `Unexpected argument "${extra}" (see \`sluice ${spec.name} --help\`).`);
      return spec.action(line);
    },
  };
  return command;
}

/** The options as a help table: flag, what it accepts, default, description. */
export function optionsTable(specs: ParamSpecs): string {
  const rows = Object.entries(specs).map(([name, spec]) => [`--${flagName(name)}`, describeExpected(spec), spec.default === undefined ? '' : String(spec.default), spec.description]);
  return formatTable(['option', 'accepts', 'default', 'description'], rows).replace(/^/gm, '  ');
}

export function commandHelp(command: Command): string {
  const usage = `Usage: sluice ${command.name}${command.arguments ? ` ${command.arguments}` : ''}${Object.keys(command.options).length ? ' [options]' : ''}`;
  const parts = [usage, '', command.summary];
  if (Object.keys(command.options).length) parts.push('', 'Options:', optionsTable(command.options));
  if (command.notes) parts.push('', command.notes);
  return `${parts.join('\n')}\n`;
}
