/** End-to-end helpers: free ports, bounded waits, and child processes with captured output. */
import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { createServer } from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago (for servers that cannot listen on port 0). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const info = server.address();
      const port = typeof info === 'object' && info !== null ? info.port : 0;
      server.close(() => {
        if (port > 0) resolve(port);
        else reject(new Error('no port assigned'));
      });
    });
  });
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

const describeValue = (value: unknown): string => {
  if (value instanceof Error) return value.message;
  const text = JSON.stringify(value) as string | undefined;
  return text === undefined ? String(value) : text.length > 2000 ? `${text.slice(0, 2000)}…` : text;
};

/**
 * Calls `probe` until it returns something other than undefined/false, at most `timeoutMs`.
 * A probe that throws counts as "not yet"; the last value or error is part of the timeout message.
 */
export async function waitFor<T>(
  probe: () => Promise<T | undefined | false> | T | undefined | false,
  timeoutMs: number,
  description: string,
  intervalMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown = 'never evaluated';
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined && value !== false) return value;
      last = value;
    } catch (err) {
      last = err;
    }
    if (Date.now() >= deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${description}; last: ${describeValue(last)}`,
      );
    }
    await sleep(intervalMs);
  }
}

/** The executable, or an error that says which Debian package provides it. It never skips. */
export function requireExecutable(path: string, debianPackage: string): string {
  try {
    accessSync(path, constants.X_OK);
    return path;
  } catch {
    throw new Error(
      `${path} not found or not executable: install the Debian package "${debianPackage}" ` +
        `(apt-get install -y ${debianPackage}); .ci/run installs it when missing`,
    );
  }
}

export type Proc = {
  readonly name: string;
  readonly child: ChildProcess;
  /** The last lines of stdout and stderr, interleaved. */
  tail(lines?: number): string;
  /** Exit code or signal once exited, else undefined. */
  exitStatus(): string | undefined;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
  stop(graceMs?: number): Promise<void>;
};

const maxLines = 400;

/** Spawns `command` without a shell; stdout and stderr are kept (bounded) for diagnostics. */
export function startProcess(name: string, command: string, args: readonly string[], cwd: string): Proc {
  const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  let status: string | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code, signal) => {
      status = signal === null ? `exit code ${code}` : `signal ${signal}`;
      resolve();
    });
    child.once('error', (err) => {
      status = `spawn error: ${err.message}`;
      lines.push(`[spawn error] ${err.message}`);
      resolve();
    });
  });
  const collect = (chunk: Buffer) => {
    for (const line of chunk.toString('utf8').split('\n')) if (line !== '') lines.push(line);
    if (lines.length > maxLines) lines.splice(0, lines.length - maxLines);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  return {
    name,
    child,
    tail: (n = 40) => lines.slice(-n).join('\n'),
    exitStatus: () => status,
    async stop(graceMs = 5000) {
      if (status !== undefined || child.pid === undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
