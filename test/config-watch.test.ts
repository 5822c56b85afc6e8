/**
 * --config.auto-reload-interval: what a load read is replayed against the files on disk. Real
 * files, including the symlink swap Kubernetes uses to update a mounted ConfigMap.
 */
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, test, vi } from 'vitest';
import {
  createWatchedLoad,
  loadConfig,
  nodeIo,
  parseCommandLine,
  watchForChanges,
} from '../src/config/index.js';
import type { ConfigIo } from '../src/config/index.js';
import { makeTestCerts } from './helpers/obshell-client-certs.js';

const dir = mkdtempSync(join(tmpdir(), 'obshell-exporter-watch-'));
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});
let n = 0;
function fresh(): string {
  const sub = join(dir, String(++n));
  mkdirSync(sub);
  return sub;
}

const target = (name: string) => `targets:\n  - {name: ${name}, urls: ["http://127.0.0.1:2886"]}\n`;

function watched(file: string, extra: string[] = []) {
  return createWatchedLoad(
    (io: ConfigIo) => loadConfig(parseCommandLine([`--config.file=${file}`, ...extra], {}), io),
    nodeIo,
  );
}

describe('createWatchedLoad', () => {
  test('sees nothing while the files are as loaded, then the edited file', () => {
    const file = join(fresh(), 'c.yml');
    writeFileSync(file, target('aa'));
    const w = watched(file);
    expect(w.load().targets.map((t) => t.name)).toEqual(['aa']);
    expect(w.changed()).toBeUndefined();
    writeFileSync(file, target('aa'));
    expect(w.changed()).toBeUndefined();
    // Same size, other content: the digest tells, not the size or the clock.
    writeFileSync(file, target('bb'));
    expect(w.changed()).toBe(file);
    expect(w.load().targets.map((t) => t.name)).toEqual(['bb']);
    expect(w.changed()).toBeUndefined();
  });

  test('sees a ConfigMap update: the ..data symlink swapped to a new directory', () => {
    const root = fresh();
    mkdirSync(join(root, 'v1'));
    mkdirSync(join(root, 'v2'));
    writeFileSync(join(root, 'v1', 'c.yml'), target('one'));
    writeFileSync(
      join(root, 'v2', 'c.yml'),
      `${target('one')}  - {name: two, urls: ["http://127.0.0.1:2886"]}\n`,
    );
    symlinkSync('v1', join(root, '..data'));
    symlinkSync('..data/c.yml', join(root, 'c.yml'));
    const w = watched(join(root, 'c.yml'));
    expect(w.load().targets).toHaveLength(1);
    expect(w.changed()).toBeUndefined();
    symlinkSync('v2', join(root, '..data_tmp'));
    renameSync(join(root, '..data_tmp'), join(root, '..data'));
    expect(w.changed()).toBe(join(root, 'c.yml'));
    expect(w.load().targets).toHaveLength(2);
  });

  test('an invalid file is reported changed once, and again when it is mended or removed', () => {
    const file = join(fresh(), 'c.yml');
    writeFileSync(file, target('aa'));
    const w = watched(file);
    w.load();
    writeFileSync(file, 'targets: [');
    expect(w.changed()).toBe(file);
    expect(() => w.load()).toThrow(/c\.yml/);
    // What the failed load read is remembered: no reload at every check for the same bad file.
    expect(w.changed()).toBeUndefined();
    writeFileSync(file, target('cc'));
    expect(w.changed()).toBe(file);
    w.load();
    rmSync(file);
    expect(w.changed()).toBe(file);
    expect(() => w.load()).toThrow(/ENOENT|no such file|does not exist/);
    expect(w.changed()).toBeUndefined();
    writeFileSync(file, target('dd'));
    expect(w.changed()).toBe(file);
  });

  test('never names a path that reads as no file before or after: it may be a password', () => {
    const sub = fresh();
    const file = join(sub, 'c.yml');
    const mistaken = join(sub, 'S3cr3t-Pa55', 'pw');
    writeFileSync(
      file,
      `targets:\n  - name: aa\n    urls: ["http://127.0.0.1:2886"]\n    password_file: ${mistaken}\n`,
    );
    const w = watched(file);
    expect(() => w.load()).toThrow(/password_file/);
    expect(w.changed()).toBeUndefined();
    // ENOENT becomes ENOTDIR: still no file there.
    writeFileSync(join(sub, 'S3cr3t-Pa55'), '');
    expect(w.changed()).toBe('a path that cannot be read (not shown)');
  });

  test('watches the files the configuration names too (a rotated CA bundle)', () => {
    const certs = makeTestCerts();
    try {
      const file = join(fresh(), 'c.yml');
      writeFileSync(file, target('aa'));
      const w = watched(file, [`--obshell.ca-file=${certs.caFile}`]);
      expect(w.load().targets[0]?.tls.caFile).toBe(certs.caFile);
      expect(w.changed()).toBeUndefined();
      copyFileSync(certs.otherCaFile, certs.caFile);
      expect(w.changed()).toBe(certs.caFile);
    } finally {
      certs.cleanup();
    }
  });
});

describe('watchForChanges', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  test('reloads once per change, skips checks while its reload runs, and stops', async () => {
    vi.useFakeTimers();
    let changed: string | undefined;
    const triggers: string[] = [];
    let finish = () => {};
    const stop = watchForChanges({
      intervalMs: 1000,
      changed: () => changed,
      reload: (trigger) => {
        triggers.push(trigger);
        return new Promise<void>((resolve) => {
          finish = () => {
            changed = undefined;
            resolve();
          };
        });
      },
    });
    await vi.advanceTimersByTimeAsync(3000);
    expect(triggers).toEqual([]);
    changed = '/etc/obshell-exporter/config.yml';
    await vi.advanceTimersByTimeAsync(1000);
    expect(triggers).toEqual(['file changed: /etc/obshell-exporter/config.yml']);
    // The reload is still running: the file still reads as changed, but no second reload starts.
    await vi.advanceTimersByTimeAsync(5000);
    expect(triggers).toHaveLength(1);
    finish();
    await vi.advanceTimersByTimeAsync(5000);
    expect(triggers).toHaveLength(1);
    changed = '/etc/obshell-exporter/ca.pem';
    stop();
    await vi.advanceTimersByTimeAsync(5000);
    expect(triggers).toHaveLength(1);
  });
});
