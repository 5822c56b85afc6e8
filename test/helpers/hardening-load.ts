/** Load helpers: scrapers in a child process (so they do not load the exporter's event loop) and a poll counter. */
import { spawn } from 'node:child_process';
import type { ObshellClient } from '../../src/obshell/client.js';

export type ScrapeReport = { total: number; ok: number; failed: number; statuses: Record<string, number> };

const scraperSource = `
const [url, concurrency, durationMs] = process.argv.slice(1);
const deadline = Date.now() + Number(durationMs);
const report = { total: 0, ok: 0, failed: 0, statuses: {} };
async function loop() {
  while (Date.now() < deadline) {
    report.total += 1;
    try {
      const res = await fetch(url);
      await res.arrayBuffer();
      report.statuses[res.status] = (report.statuses[res.status] ?? 0) + 1;
      if (res.status === 200) report.ok += 1; else report.failed += 1;
    } catch (error) {
      report.failed += 1;
      const key = String(error?.cause?.code ?? error?.name ?? 'error');
      report.statuses[key] = (report.statuses[key] ?? 0) + 1;
    }
  }
}
await Promise.all(Array.from({ length: Number(concurrency) }, loop));
process.stdout.write(JSON.stringify(report));
`;

/** `concurrency` fetch loops on `url` for `durationMs`, in a separate Node process. */
export function runScrapers(url: string, concurrency: number, durationMs: number): Promise<ScrapeReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', scraperSource, url, String(concurrency), String(durationMs)],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
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
