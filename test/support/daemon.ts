import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { afterEach } from 'vitest';
import { NODE_FLAGS } from '../../bin/node-flags.mjs';
import { BIN } from './cli.ts';

/** A long-running `sluice` process (schedule, worker, serve) of a test. */
export interface Daemon {
  readonly child: ChildProcess;
  /** Everything it wrote to stderr so far. */
  stderr(): string;
  /** Sends the signal (SIGTERM by default), then its exit code (null when killed by the signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

const started = new Set<ChildProcess>();

// Processes a failed test left running are killed after each test, so none outlives the suite.
afterEach(() => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  started.clear();
});

/** Starts `sluice <args>` and resolves once its stderr matches `ready`. */
export async function startDaemon(args: readonly string[], ready: RegExp, options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Daemon> {
  const child = spawn(process.execPath, [...NODE_FLAGS, BIN, ...args], { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['ignore', 'ignore', 'pipe'] });
  started.add(child);
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await new Promise<void>((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`sluice ${args[0]} exited with ${code}: ${stderr}`));
    child.once('exit', onExit);
    const check = setInterval(() => {
      if (!ready.test(stderr)) return;
      clearInterval(check);
      child.off('exit', onExit);
      resolve();
    }, 20);
  });
  return {
    child,
    stderr: () => stderr,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit');
      child.kill(signal);
      return ((await exited) as [number | null])[0];
    },
  };
}
