import { execFileSync } from 'node:child_process';
import { mkdtempSync, renameSync, rmSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { createSecretReader, SecretReadError } from '../src/config/index.js';
import { createObshellClient } from '../src/obshell/client.js';
import { startSimulator } from '../src/simulator/index.js';
import type { SecretFs } from '../src/config/index.js';

const canary = 'canary-7f3a-secret-do-not-print';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'obshell-exporter-secrets-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function thrown(read: () => string): Error {
  try {
    read();
  } catch (error) {
    return error as Error;
  }
  throw new Error('did not throw');
}

describe('createSecretReader', () => {
  test('none reads as the empty string', () => {
    expect(createSecretReader({ kind: 'none' }, {})()).toBe('');
  });

  test('a file: trailing newlines trimmed, other whitespace kept', () => {
    const path = join(dir, 'pw');
    writeFileSync(path, ' p@ss word \r\n\n');
    expect(createSecretReader({ kind: 'file', path }, {})()).toBe(' p@ss word ');
  });

  test('a rewritten file is read again (rotation without restart)', () => {
    const path = join(dir, 'pw');
    writeFileSync(path, 'first\n');
    const read = createSecretReader({ kind: 'file', path }, {});
    expect(read()).toBe('first');
    writeFileSync(path, 'second-password\n');
    expect(read()).toBe('second-password');
  });

  test('a Kubernetes-style symlink swap is picked up', () => {
    const link = join(dir, 'pw');
    writeFileSync(join(dir, 'v1'), 'one');
    writeFileSync(join(dir, 'v2'), 'two');
    symlinkSync(join(dir, 'v1'), link);
    const read = createSecretReader({ kind: 'file', path: link }, {});
    expect(read()).toBe('one');
    symlinkSync(join(dir, 'v2'), join(dir, 'pw.new'));
    renameSync(join(dir, 'pw.new'), link);
    expect(read()).toBe('two');
  });

  test('an unchanged file is not read again', () => {
    let reads = 0;
    const fs: SecretFs = {
      statSync: () => ({ ino: 1, mtimeMs: 5, size: 6, isFile: () => true }),
      readFileSync: () => {
        reads += 1;
        return 'secret';
      },
    };
    const read = createSecretReader({ kind: 'file', path: '/pw' }, {}, fs);
    expect([read(), read(), read()]).toEqual(['secret', 'secret', 'secret']);
    expect(reads).toBe(1);
  });

  test('a missing file: the error names the file, not the former content', () => {
    const path = join(dir, 'pw');
    writeFileSync(path, canary);
    const read = createSecretReader({ kind: 'file', path }, {});
    expect(read()).toBe(canary);
    unlinkSync(path);
    const error = thrown(read);
    expect(error).toBeInstanceOf(SecretReadError);
    expect(error.message).toBe(`cannot read password file "${path}": no such file`);
    expect(JSON.stringify({ message: error.message, stack: error.stack })).not.toContain(canary);
  });

  test('a read failure whose error text holds the content never shows it', () => {
    const fs: SecretFs = {
      statSync: () => ({ ino: 1, mtimeMs: 1, size: 1, isFile: () => true }),
      readFileSync: () => {
        throw Object.assign(new Error(`boom ${canary}`), { code: 'EACCES' });
      },
    };
    const error = thrown(createSecretReader({ kind: 'file', path: '/pw' }, {}, fs));
    expect(error.message).toBe('cannot read password file "/pw": permission denied');
    expect(error.message).not.toContain(canary);
  });

  test('an oversized file, a FIFO or a device is refused at once, never read (also when swapped in later)', () => {
    const big = join(dir, 'big');
    writeFileSync(big, 'x'.repeat(64 * 1024 + 1));
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    const link = join(dir, 'link');
    symlinkSync(fifo, link);
    const swapped = join(dir, 'pw');
    writeFileSync(swapped, canary);
    const read = createSecretReader({ kind: 'file', path: swapped }, {});
    expect(read()).toBe(canary);
    unlinkSync(swapped);
    execFileSync('mkfifo', [swapped]);
    const cases = [
      [big, 'larger than 64 KiB'],
      [fifo, 'not a regular file'],
      [link, 'not a regular file'],
      ['/dev/zero', 'not a regular file'],
    ] as const;
    for (const [path, why] of cases) {
      const error = thrown(createSecretReader({ kind: 'file', path }, {}));
      expect(error).toBeInstanceOf(SecretReadError);
      expect(error.message).toBe(`cannot read password file "${path}": ${why}`);
    }
    expect(thrown(read).message).toBe(`cannot read password file "${swapped}": not a regular file`);
  });

  test('a password file swapped for a FIFO fails the poll at once, and the next good file recovers it', async () => {
    const sim = await startSimulator({ port: 0, password: canary, scenario: 'seed' });
    const path = join(dir, 'pw');
    writeFileSync(path, `${canary}\n`);
    const password = createSecretReader({ kind: 'file', path }, {});
    const client = createObshellClient({ urls: [sim.url], password, timeoutMs: 3000 });
    try {
      expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
      unlinkSync(path);
      execFileSync('mkfifo', [path]);
      const started = Date.now();
      const failed = await client.fetchLastMaintenanceTask();
      expect(failed).toMatchObject({ kind: 'failure', reason: 'auth' });
      expect(failed.kind === 'failure' && failed.message).toMatch(/^cannot read password file "[^"]+\/pw": /);
      expect(Date.now() - started).toBeLessThan(1000);
      expect(JSON.stringify(failed)).not.toContain(canary);
      unlinkSync(path);
      writeFileSync(path, canary);
      expect((await client.fetchLastMaintenanceTask()).kind).toBe('ok');
    } finally {
      client.close();
      await sim.close();
    }
  });

  test('an env var is read at each call', () => {
    const env: Record<string, string | undefined> = { PW: 'one' };
    const read = createSecretReader({ kind: 'env', name: 'PW' }, env);
    expect(read()).toBe('one');
    env['PW'] = 'two';
    expect(read()).toBe('two');
    delete env['PW'];
    expect(thrown(read).message).toBe('environment variable "PW" is not set');
  });
});
