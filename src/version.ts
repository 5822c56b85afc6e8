/** The exporter's version (package.json) and git revision (written into dist/ by `npm run build`). */
import { readFileSync } from 'node:fs';

function readJson(candidates: readonly string[]): Record<string, unknown> {
  for (const relative of candidates) {
    try {
      return JSON.parse(readFileSync(new URL(relative, import.meta.url), 'utf8')) as Record<string, unknown>;
    } catch {
      // Try the next place: the layout differs between src/ (tests) and dist/src/ (built).
    }
  }
  return {};
}

const pkg = readJson(['../package.json', '../../package.json']);
const build = readJson(['../build-info.json', './build-info.json']);

export const version = typeof pkg['version'] === 'string' ? pkg['version'] : '0.0.0';
export const revision =
  process.env['OBSHELL_EXPORTER_REVISION'] ??
  (typeof build['revision'] === 'string' ? build['revision'] : 'unknown');
