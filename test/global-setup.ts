import { execFileSync } from 'node:child_process';

/** Tests spawn `bin/sluice.mjs`, which runs dist/: build it once here rather than racing in each child. */
export default function setup(): void {
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { stdio: 'inherit' });
}
