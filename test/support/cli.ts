import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../../bin/node-flags.mjs';

export const BIN = fileURLToPath(new URL('../../bin/sluice.mjs', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: Buffer;
  readonly stderr: string;
}

export interface CliOptions {
  readonly cwd?: string;
  readonly env?: NodeJS.ProcessEnv;
  /** Another copy of the CLI (an installed package's), instead of this checkout's. */
  readonly bin?: string;
  /** Called once the child is running, e.g. to signal it. */
  readonly onSpawn?: (child: ChildProcess) => void;
  /** The child is killed (SIGKILL) if still running after this long (default 240 s), so a hung run never outlives its test. */
  readonly killAfterMs?: number;
}

/** Runs the real CLI in a child process. */
export function sluice(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const env = { ...process.env, DATABASE_URL: '', ...options.env };
    const child = spawn(process.execPath, [...NODE_FLAGS, options.bin ?? BIN, ...args], { cwd: options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    const stdout: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const killer = setTimeout(() => child.kill('SIGKILL'), options.killAfterMs ?? 240_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(killer);
      resolve({ code, signal, stdout: Buffer.concat(stdout), stderr });
    });
    options.onSpawn?.(child);
  });
}
