/** Load helpers: scrapers in a child process (so they do not load the exporter's event loop) and a poll counter. */
import { spawn } from 'node:child_process';
import { setPriority } from 'node:os';
import type { ObshellClient } from '../../src/obshell/client.js';

export type ScrapeReport = { total: number; ok: number; failed: number; statuses: Record<string, number> };

// Scrapes as Prometheus does: Accept-Encoding gzip, the whole body read. The bytes are counted, not
// inflated: 200 concurrent inflations of a 20 MB body would measure this process, not the exporter.
const scraperSource = `
import { get } from 'node:http';
const [url, concurrency, durationMs] = process.argv.slice(1);
const deadline = Date.now() + Number(durationMs);
const report = { total: 0, ok: 0, failed: 0, statuses: {} };
const scrape = () => new Promise((resolve) => {
  get(url, { headers: { 'accept-encoding': 'gzip' } }, (res) => {
    let bytes = 0;
    res.on('data', (chunk) => { bytes += chunk.length; });
    res.on('end', () => {
      const complete = res.complete && bytes === Number(res.headers['content-length']);
      resolve(res.statusCode === 200 && !complete ? 'incomplete' : String(res.statusCode));
    });
    res.on('error', (error) => resolve(String(error.code ?? error.name)));
  }).on('error', (error) => resolve(String(error.code ?? error.name)));
});
async function loop() {
  while (Date.now() < deadline) {
    report.total += 1;
    const status = await scrape();
    report.statuses[status] = (report.statuses[status] ?? 0) + 1;
    if (status === '200') report.ok += 1; else report.failed += 1;
  }
}
await Promise.all(Array.from({ length: Number(concurrency) }, loop));
process.stdout.write(JSON.stringify(report));
`;

/** `concurrency` scrape loops on `url` for `durationMs`, in a separate Node process. */
export function runScrapers(url: string, concurrency: number, durationMs: number): Promise<ScrapeReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', scraperSource, url, String(concurrency), String(durationMs)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    lowerPriority(child.pid);
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) reject(new Error(`scrapers exited with ${code}: ${err}`));
      else resolve(JSON.parse(out) as ScrapeReport);
    });
  });
}

/** Per client: fetches in flight now, the most ever in flight at once, and the total. */
export type PollCount = { inFlight: number; maxInFlight: number; total: number };

/** Wraps a client so that every fetch is counted; the wrapped client behaves the same. */
export function countingClient(client: ObshellClient, count: PollCount): ObshellClient {
  return {
    async fetchLastMaintenanceTask(options) {
      count.inFlight += 1;
      count.total += 1;
      count.maxInFlight = Math.max(count.maxInFlight, count.inFlight);
      try {
        return await client.fetchLastMaintenanceTask(options);
      } finally {
        count.inFlight -= 1;
      }
    },
    close: () => {
      client.close();
    },
  };
}

/**
 * A simulator in its own process (the built `obshell-exporter simulate`), so that its work does
 * not count in the exporter's event-loop delay. Resolves with its URL and a stop function.
 */
export function spawnSimulator(args: string[]): Promise<{ url: string; stop: () => Promise<void> }> {
  const main = new URL('../../dist/src/main.js', import.meta.url).pathname;
  const child = spawn(process.execPath, [main, 'simulate', '--listen', '127.0.0.1:0', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  lowerPriority(child.pid);
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null) resolve();
      else {
        child.once('exit', () => {
          resolve();
        });
        child.kill('SIGTERM');
      }
    });
  return new Promise((resolve, reject) => {
    let log = '';
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      const url = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(log)?.[1];
      if (url) resolve({ url, stop });
    });
    child.once('exit', (code) => {
      reject(new Error(`simulator exited with ${code}: ${log}`));
    });
  });
}

/**
 * The load generators (scrapers, simulators) run niced: on a 2-core machine they would otherwise
 * take the exporter's core, and the event-loop delay would measure them, not the exporter (in
 * production the scrapers and obshell run elsewhere).
 */
function lowerPriority(pid: number | undefined): void {
  if (pid !== undefined) setPriority(pid, 10);
}
