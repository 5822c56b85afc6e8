// Writes dist/build-info.json with the git revision, so a built exporter can report it.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';

let revision = process.env.OBSHELL_EXPORTER_REVISION ?? 'unknown';
try {
  revision = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  }).trim();
} catch {
  // Not a git checkout (e.g. a Docker build context): keep the environment's or 'unknown'.
}
mkdirSync('dist', { recursive: true });
writeFileSync('dist/build-info.json', `${JSON.stringify({ revision })}\n`);
