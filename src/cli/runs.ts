import type { Database } from '../core/database.ts';
import { SluiceError } from '../core/errors.ts';
import { openDatabase } from '../db/open.ts';
import { resolveDatabaseUrl } from '../db/url.ts';
import { formatDuration, parseAge } from '../ops/durations.ts';
import { type RunRecord, RunHistory } from '../ops/run-history.ts';
import { RUNS_QUERY, runFilter } from '../ops/runs-query.ts';
import type { Workspace } from './apps.ts';
import { type Command, DB_OPTION, defineCommand } from './command.ts';
import { formatTable } from './format.ts';
import { groupDigits } from '../core/group-digits.ts';

const JSON_OPTION = { type: 'boolean', default: false, description: 'Print JSON instead of a table' } as const;

async function withHistory<T>(ws: Workspace, db: string | undefined, use: (history: RunHistory, database: Database) => Promise<T>): Promise<T> {
  const database = openDatabase(resolveDatabaseUrl(db, ws.defaultDatabase));
  try {
    return await use(RunHistory.reader(database), database);
  } catch (error) {
    if (error instanceof SluiceError && error.code === 'MISSING_TABLE') {
      throw new SluiceError('MISSING_TABLE', `No run history in ${database.label} yet: it is created by the first run recorded there.`, { cause: error });
    }
    throw error;
  } finally {
    await database.close();
  }
}

function ended(run: RunRecord): string {
  if (run.status === 'running' || run.status === 'abandoned') return run.status === 'running' ? `${groupDigits(run.rows)} rows so far` : `last heartbeat ${run.heartbeatAt}`;
  if (run.errorMessage) return `${run.errorCode ?? ''} ${run.errorMessage}`.trim();
  return run.output ?? '';
}

export function runsTable(runs: readonly RunRecord[]): string {
  const rows = runs.map((run) => [
    run.id,
    run.job ? `${run.pipeline} (${run.job})` : run.pipeline,
    run.status,
    run.trigger,
    run.who,
    run.startedAt.replace('T', ' ').replace(/\.\d+Z$/, 'Z'),
    run.finishedAt ? formatDuration(Date.parse(run.finishedAt) - Date.parse(run.startedAt)) : '',
    groupDigits(run.rows),
    ended(run),
  ]);
  return `${formatTable(['id', 'pipeline', 'status', 'via', 'who', 'started', 'took', 'rows', 'output / error'], rows, [7])}\n`;
}

function runText(run: RunRecord): string {
  const fields: Array<[string, string]> = [
    ['id', run.id],
    ['pipeline', run.pipeline],
    ['status', run.status],
    ['parameters', JSON.stringify(run.params)],
    ['triggered by', `${run.trigger}${run.job ? ` (job ${run.job}, attempt ${run.attempt})` : ''}`],
    ['who', run.who],
    ['where', `${run.host}, pid ${run.pid}`],
    ['started', run.startedAt],
    ['finished', run.finishedAt ?? ''],
    ['heartbeat', run.heartbeatAt],
    ['rows', `${groupDigits(run.rows)}${run.expectedRows !== null ? ` of ${groupDigits(run.expectedRows)} expected` : ''}`],
    ['bytes', groupDigits(run.bytes)],
    ['output', run.output ?? ''],
    ['error', run.errorCode ? `${run.errorCode}: ${run.errorMessage ?? ''}` : ''],
  ];
  return `${fields.filter(([, value]) => value !== '').map(([name, value]) => `${`${name}:`.padEnd(14)}${value}`).join('\n')}\n`;
}

export function runsCli(ws: Workspace): Command[] {
  const show = defineCommand({
    name: 'runs show',
    arguments: '<id>',
    summary: 'Shows one run of the history: its parameters, who ran it, how it ended.',
    maxPositionals: 1,
    options: { db: DB_OPTION, json: JSON_OPTION },
    async action({ positionals, options }) {
      const id = positionals[0];
      if (id === undefined) throw new SluiceError('USAGE', 'Name the run: sluice runs show <id> (`sluice runs` lists them).');
      const found = await withHistory(ws, options.db as string | undefined, async (history) => {
        const run = await history.get(id);
        return run && { run, partitions: await history.partitionsOf(id) };
      });
      if (!found) throw new SluiceError('USAGE', `No run "${id}" in the history (\`sluice runs\` lists them).`);
      const { run, partitions } = found;
      if (options.json) process.stdout.write(`${JSON.stringify(partitions.length ? { ...run, partitions } : run, null, 2)}\n`);
      else process.stdout.write(runText(run) + (partitions.length ? `\npartitions:\n${runsTable(partitions)}` : ''));
      return 0;
    },
  });
  const prune = defineCommand({
    name: 'runs prune',
    summary: 'Deletes the history of runs started before a given age (runs still going are kept).',
    options: {
      db: DB_OPTION,
      olderThan: { type: 'string', accepts: 'an age: 90d, 12h, 30m', description: 'Delete runs started longer ago than this' },
    },
    async action({ options }) {
      if (options.olderThan === undefined) throw new SluiceError('USAGE', 'Say which runs to delete: sluice runs prune --older-than 90d.');
      const before = Date.now() - parseAge(options.olderThan as string, '--older-than');
      const deleted = await withHistory(ws, options.db as string | undefined, (history) => history.prune(before));
      process.stdout.write(`Deleted ${groupDigits(deleted)} runs started before ${new Date(before).toISOString()}\n`);
      return 0;
    },
  });
  const list = defineCommand({
    name: 'runs',
    summary: 'Lists recent runs from the history (who ran what, with which parameters, how it ended).',
    options: {
      db: DB_OPTION,
      ...RUNS_QUERY,
      json: JSON_OPTION,
    },
    async action({ options }) {
      const runs = await withHistory(ws, options.db as string | undefined, (history) => history.list(runFilter(options)));
      process.stdout.write(options.json ? `${JSON.stringify(runs, null, 2)}\n` : runs.length ? runsTable(runs) : 'No runs match.\n');
      return 0;
    },
  });
  return [show, prune, list];
}
