/** Vitest global setup: builds dist/ once, for the tests that run the exporter as users do (node dist/src/main.js). */
import { execFileSync } from 'node:child_process';

export function setup(): void {
  execFileSync('npm', ['run', 'build'], {
    cwd: new URL('../..', import.meta.url).pathname,
    stdio: 'inherit',
  });
}
