import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NODE_FLAGS } from '../bin/node-flags.mjs';

const BIN = fileURLToPath(new URL('../bin/sluice.mjs', import.meta.url));
export const TOKEN = 'bench-serve-load-token-0123456789';

export interface ServeProcess {
  readonly child: ChildProcess;
  readonly base: string;
  /** The server's peak RSS so far (VmHWM), in bytes. */
  peakRss(): number;
  /** SIGTERM, resolved once it exited. */
  stop(): Promise<void>;
}

/** `sluice serve` on a free port of `dbUrl`, with the bench's admin token; resolves once it listens. */
export function startServe(dbUrl: string, extra: readonly string[] = []): Promise<ServeProcess> {
  const child = spawn(process.execPath, [...NODE_FLAGS, BIN, 'serve', '--port', '0', '--db', dbUrl, '--log-level', 'warn', ...extra], {
    env: { ...process.env, ADMIN_TOKEN: TOKEN },
    stdio: ['ignore', 'inherit', 'pipe'],
    detached: true,
  });
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.once('exit', (code) => reject(new Error(`sluice serve exited with ${code}: ${stderr}`)));
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
      const base = /listening on (http:\/\/\S+)/.exec(stderr)?.[1];
      if (!base) return;
      resolve({
        child,
        base,
        peakRss: () => Number(/VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'))?.[1]) * 1024,
        stop: () => {
          child.removeAllListeners('exit');
          const exited = new Promise<void>((done) => child.once('exit', () => done()));
          child.kill('SIGTERM');
          return exited;
        },
      });
    });
  });
}
