import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, rmSync } from 'node:fs';

const TIME = '/usr/bin/time';

/** One process to measure: argv without a shell, stdout optionally sent to a file (the `> file` of the commands shown). */
export interface Command {
  readonly argv: readonly string[];
  readonly stdoutFile?: string;
  readonly env?: Readonly<Record<string, string>>;
}

export type Measurement =
  | { readonly ok: true; readonly wallSeconds: number; readonly peakRssKb: number }
  | { readonly ok: false; readonly failure: string; readonly wallSeconds?: number; readonly peakRssKb?: number };

export function assertTimeAvailable(): void {
  if (!existsSync(TIME)) throw new Error(`${TIME} (GNU time) is needed to measure peak RSS: install the "time" package.`);
}

/** Keeps the last few KB of a stream, enough to say why a process failed. */
function tail(limit = 4096): { push(chunk: Buffer): void; text(): string } {
  let kept = '';
  return {
    push: (chunk) => void (kept = (kept + chunk.toString('utf8')).slice(-limit)),
    text: () => kept,
  };
}

function lastLine(text: string): string {
  return text.trim().split('\n').at(-1)?.slice(0, 200) ?? '';
}

/** A crash that looks like memory exhaustion is a finding to report as such, not a harness error. */
function describeFailure(exitStatus: number, signalled: boolean, stderr: string): string {
  if (/heap out of memory|Allocation failed|Invalid string length|ENOMEM/.test(stderr) || (signalled && /signal (6|9)\b/.test(stderr))) {
    return 'OOM/crash';
  }
  return `failed (exit ${exitStatus}${lastLine(stderr) ? `: ${lastLine(stderr)}` : ''})`;
}

/** GNU time writes `Command exited with non-zero status N` / `Command terminated by signal N` before the format line. */
function parseTimeFile(path: string): { wallSeconds: number; peakRssKb: number; exitStatus: number; note: string } | undefined {
  if (!existsSync(path)) return undefined;
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const match = /^([\d.]+) (\d+) (\d+)$/.exec(lines.at(-1) ?? '');
  if (!match) return undefined;
  return { wallSeconds: Number(match[1]), peakRssKb: Number(match[2]), exitStatus: Number(match[3]), note: lines.slice(0, -1).join(' ') };
}

/**
 * Runs the command under `/usr/bin/time -f '%e %M %x'`: wall seconds, peak RSS in KB (the largest
 * process of the tree) and exit status. The process group is killed on timeout, so a runaway
 * case cannot outlive the harness.
 */
export function measure(command: Command, timeoutSeconds: number, timeFile: string): Promise<Measurement> {
  rmSync(timeFile, { force: true });
  const stdout = command.stdoutFile ? openSync(command.stdoutFile, 'w') : 'ignore';
  const child = spawn(TIME, ['-f', '%e %M %x', '-o', timeFile, ...command.argv], {
    stdio: ['ignore', stdout, 'pipe'],
    env: { ...process.env, ...command.env },
    detached: true,
  });
  if (typeof stdout === 'number') closeSync(stdout);
  const stderr = tail();
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // Already gone.
    }
  }, timeoutSeconds * 1000);
  return new Promise((resolve) => {
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, failure: `failed to start: ${error.message}` });
    });
    child.on('close', () => {
      clearTimeout(timer);
      const timed = parseTimeFile(timeFile);
      if (timedOut) return resolve({ ok: false, failure: `timeout after ${timeoutSeconds} s` });
      if (!timed) return resolve({ ok: false, failure: `no measurement (${lastLine(stderr.text())})` });
      const signalled = timed.note.includes('terminated by signal');
      if (timed.exitStatus === 0 && !signalled) return resolve({ ok: true, wallSeconds: timed.wallSeconds, peakRssKb: timed.peakRssKb });
      const failure = describeFailure(timed.exitStatus, signalled, `${stderr.text()}\n${timed.note}`);
      resolve({ ok: false, failure, wallSeconds: timed.wallSeconds, peakRssKb: timed.peakRssKb });
    });
  });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
