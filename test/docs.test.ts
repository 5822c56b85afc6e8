/** The README is the public contract: it must document every metric and flag that exists, and nothing that does not. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { flagSpecs } from '../src/config/index.js';
import { catalogue } from '../src/metrics/catalogue.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
const changelog = readFileSync(new URL('../CHANGELOG.md', import.meta.url), 'utf8');

describe('README', () => {
  it.each(Object.values(catalogue).map((m) => [m.name, m.labelNames] as const))(
    'documents %s with its labels',
    (name, labels) => {
      const row = readme.split('\n').find((line) => new RegExp(`^\\| \`${name}\` +\\|`).test(line));
      expect(row, `no metric table row for ${name}`).toBeDefined();
      for (const label of labels) expect(row).toContain(label);
    },
  );

  it('documents no metric the exporter does not have', () => {
    const known = new Set<string>(Object.values(catalogue).map((m) => m.name));
    const documented = [...readme.matchAll(/^\| `(obshell_[a-z_]+)` +\|/gm)].map((m) => m[1]);
    expect(documented.filter((name) => !known.has(name!))).toEqual([]);
  });

  it.each(Object.keys(flagSpecs))('documents the flag --%s', (flag) => {
    expect(readme).toContain(`\`--${flag}`);
  });

  it('shows the test command that .ci/run runs', () => {
    expect(readme).toContain('npm test');
    expect(readFileSync(new URL('../.ci/run', import.meta.url), 'utf8')).toMatch(/^npm test$/m);
  });
});

describe('CHANGELOG', () => {
  it('follows Keep a Changelog with an Unreleased section', () => {
    expect(changelog).toContain('## [Unreleased]');
    expect(changelog).toMatch(/Keep a Changelog/);
  });
});
