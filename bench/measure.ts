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
function describeFailure(exitStatus: number, timeNote: string, stderr: string): string {
  const killed = /terminated by signal (6|9)\b/.test(timeNote);
  if (killed || /heap out of memory|Allocation failed|Invalid string length|ENOMEM/.test(stderr)) return 'OOM/crash';
  const why = lastLine(stderr) || timeNote;
  return `failed (exit ${exitStatus}${why ? `: ${why}` : ''})`;
}

/** GNU time writes `Command exited with non-zero status N` / `Command terminated by signal N` before the format line. */
function parseTimeFile(path: string): { peakRssKb: number; exitStatus: number; note: string } | undefined {
  if (!existsSync(path)) return undefined;
  const lines = readFileSync(path, 'utf8').trim().split('\n');
  const match = /^(\d+) (\d+)$/.exec(lines.at(-1) ?? '');
  if (!match) return undefined;
  return { peakRssKb: Number(match[1]), exitStatus: Number(match[2]), note: lines.slice(0, -1).join(' ') };
}

/** Process groups still running: detached from ours, so Ctrl-C must be passed on to them. */
const running = new Set<number>();

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

let forwarding = false;

function forwardSignals(): void {
  if (forwarding) return;
  forwarding = true;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      for (const pid of running) killGroup(pid);
      process.exit(130);
    });
  }
}

/**
 * Runs the command under `/usr/bin/time -f '%M %x'` for its peak RSS in KB (the largest
 * process of the tree) and exit status; wall time is taken here, as GNU time rounds to 10 ms.
 * The process group is killed on timeout, so a runaway case cannot outlive the harness.
 */
export function measure(command: Command, timeoutSeconds: number, timeFile: string): Promise<Measurement> {
  forwardSignals();
  rmSync(timeFile, { force: true });
  const start = process.hrtime.bigint();
  const stdout = command.stdoutFile ? openSync(command.stdoutFile, 'w') : 'ignore';
  const child = spawn(TIME, ['-f', '%M %x', '-o', timeFile, ...command.argv], {
    stdio: ['ignore', stdout, 'pipe'],
    env: { ...process.env, ...command.env },
    detached: true,
  });
  if (typeof stdout === 'number') closeSync(stdout);
  const stderr = tail();
  child.stderr!.on('data', (chunk: Buffer) => stderr.push(chunk));
  if (child.pid) running.add(child.pid);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    killGroup(child.pid!);
  }, timeoutSeconds * 1000);
  return new Promise((resolve) => {
    child.on('error', (error) => {
      clearTimeout(timer);
      resolve({ ok: false, failure: `failed to start: ${error.message}` });
    });
    child.on('close', () => {
      clearTimeout(timer);
      running.delete(child.pid!);
      const wallSeconds = Number(process.hrtime.bigint() - start) / 1e9;
      const timed = parseTimeFile(timeFile);
      if (timedOut) return resolve({ ok: false, failure: `timeout after ${timeoutSeconds} s` });
      if (!timed) return resolve({ ok: false, failure: `no measurement (${lastLine(stderr.text())})` });
      const signalled = timed.note.includes('terminated by signal');
      if (timed.exitStatus === 0 && !signalled) return resolve({ ok: true, wallSeconds, peakRssKb: timed.peakRssKb });
      const failure = describeFailure(timed.exitStatus, timed.note, stderr.text());
      resolve({ ok: false, failure, wallSeconds, peakRssKb: timed.peakRssKb });
    });
  });
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
