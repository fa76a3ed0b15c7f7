import { SluiceError, toSluiceError } from '../core/errors.ts';
import { didYouMean } from '../core/suggest.ts';
import { type Workspace, version, workspace } from './apps.ts';
import type { Command } from './command.ts';
import { dbInitCli } from './db-init.ts';
import { demoCli } from './demo.ts';
import { describeCli } from './describe.ts';
import { formatTable } from './format.ts';
import { listCli } from './list.ts';
import { runCli } from './run.ts';
import { runsCli } from './runs.ts';
import { scheduleCli } from './schedule.ts';
import { serveCli } from './serve.ts';
import { submitCli } from './submit.ts';
import { workerCli } from './worker.ts';

export { version } from './apps.ts';

function commands(ws: Workspace): Command[] {
  // `runs show` before `runs`: the first command whose words match is the one.
  return [listCli(ws.pipelines), describeCli(ws.pipelines), runCli(ws), ...runsCli(ws), serveCli(ws), scheduleCli(ws), submitCli(ws), workerCli(ws), dbInitCli(ws), demoCli(ws)];
}

function overview(list: readonly Command[]): string {
  const rows = list.map((c) => [`sluice ${c.name}${c.arguments ? ` ${c.arguments}` : ''}`, c.summary]);
  return [
    'Usage: sluice <command> [options]',
    '',
    'Streaming ETL pipelines: database to CSV/TSV/TXT/XLSX in flat memory.',
    '',
    formatTable(['command', 'what it does'], rows).replace(/^/gm, '  '),
    '',
    'Pipelines: the bundled ones, plus those of the folders named by --pipelines DIR (repeatable, any',
    'command), SLUICE_PIPELINES (a path list) and "pipelines" in ./sluice.config.json.',
    '`sluice <command> --help` shows a command\'s options; `sluice --version` the version.',
    '',
  ].join('\n');
}

/** The command named by the first words (`run`, `db init`), and the words after it. */
function pick(list: readonly Command[], args: readonly string[]): [Command, string[]] {
  for (const command of list) {
    const words = command.name.split(' ');
    if (words.every((word, i) => args[i] === word)) return [command, args.slice(words.length)];
  }
  const typed = args[0]!;
  const hint = didYouMean(typed, list.map((c) => c.name.split(' ')[0]!));
  const detail = typed === 'db' ? ' `sluice db init` is the database command.' : hint;
  throw new SluiceError('USAGE', `Unknown command "${args.slice(0, typed === 'db' ? 2 : 1).join(' ')}".${detail} See \`sluice --help\`.`);
}

/** `--pipelines DIR` may stand anywhere: it decides which pipelines exist before a command reads its own flags. */
function takePipelineFolders(args: readonly string[]): { folders: string[]; rest: string[] } {
  const folders: string[] = [];
  const rest: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const word = args[i]!;
    if (word.startsWith('--pipelines=')) folders.push(word.slice('--pipelines='.length));
    else if (word === '--pipelines') {
      const dir = args[++i];
      if (dir === undefined || dir.startsWith('--')) throw new SluiceError('USAGE', '--pipelines needs a value: a folder of pipeline files.');
      folders.push(dir);
    } else rest.push(word);
  }
  return { folders, rest };
}

/** The CLI entry point: returns the process exit code. Errors print as one line on stderr. */
export async function main(args: string[]): Promise<number> {
  try {
    if (args[0] === '--version' || args[0] === '-v') {
      process.stdout.write(`${version()}\n`);
      return 0;
    }
    const { folders, rest } = takePipelineFolders(args);
    const list = commands(await workspace({ pipelineFlags: folders }));
    if (rest.length === 0 || rest[0] === '--help' || rest[0] === '-h' || rest[0] === 'help') {
      process.stdout.write(overview(list));
      return rest.length === 0 ? 2 : 0;
    }
    const [command, commandArgs] = pick(list, rest);
    return await command.run(commandArgs);
  } catch (error) {
    const failure = toSluiceError(error);
    if (failure.code !== 'OUTPUT_CLOSED') process.stderr.write(`sluice: ${failure.message}\n`);
    if (failure.code === 'INTERNAL' && process.env.SLUICE_DEBUG) process.stderr.write(`${(error as Error).stack}\n`);
    return failure.exitCode;
  }
}
