/** Small helpers shared by the bench scripts: child processes, ports, HTTP, statistics. */
import { Buffer } from 'node:buffer';
import { spawn, spawnSync } from 'node:child_process';
import { get, request } from 'node:http';
import { createServer } from 'node:net';
import { clearTimeout, setTimeout } from 'node:timers';

const children = new Set();

/** Spawns a child whose lifetime is bound to ours; `lines` collects its output for readiness checks. */
export function start(command, args, options = {}) {
  const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], ...options });
  const lines = [];
  const collect = (chunk) => {
    for (const line of String(chunk).split('\n')) if (line) lines.push(line);
    if (lines.length > 200) lines.splice(0, lines.length - 200);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  children.add(child);
  child.on('exit', () => children.delete(child));
  return { child, lines };
}

/** SIGTERM, then SIGKILL after 3 s; resolves when the child is gone. */
export async function stop(proc) {
  const { child } = proc;
  if (child.exitCode !== null || child.signalCode !== null) return;
  const gone = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await gone;
  clearTimeout(timer);
}

export function stopAllSync() {
  for (const child of children) child.kill('SIGKILL');
}

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

export function httpRequest(url, { method = 'GET', body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () =>
        resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.on('error', reject);
    req.setTimeout(120_000, () => req.destroy(new Error(`timeout: ${method} ${url}`)));
    req.end(body);
  });
}

/**
 * The least an HTTP GET costs in Node, the baseline of the poll benches: node:http with the given
 * options (a keep-alive agent, headers), the body read into one Buffer, nothing else (no timer).
 */
export function bareGet(url, options) {
  return new Promise((resolve, reject) => {
    get(url, options, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    }).on('error', reject);
  });
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns a truthy value or `timeoutMs` passes. */
export async function waitFor(what, check, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Resident set size of a process in bytes, from /proc (Linux). */
export async function rssOf(pid) {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  return kb * 1024;
}

/** CPU time (user + system) of a process in ms, from /proc (Linux). */
let ticksPerSecond;
export async function cpuMsOf(pid) {
  const { readFile } = await import('node:fs/promises');
  ticksPerSecond ??= Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim()) || 100;
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond;
}

/**
 * Waits until a process uses under `maxShare` of a core over `windowMs` (at most `timeoutMs`).
 * A server can keep working after wrk stopped (the Pushgateway finishes each queued 45 MB
 * encoding), which would load the machine during the next server's run. Returns the ms waited.
 */
export async function settle(pid, { maxShare = 0.2, windowMs = 500, timeoutMs = 60_000 } = {}) {
  const began = Date.now();
  let before = await cpuMsOf(pid);
  while (Date.now() - began < timeoutMs) {
    await sleep(windowMs);
    const now = await cpuMsOf(pid);
    if (now - before < windowMs * maxShare) break;
    before = now;
  }
  return Date.now() - began;
}

/** Runs a node script as a child (on `options.node`, this Node by default) and returns the JSON it prints last on stdout. */
export async function runJson(script, args, options = {}) {
  const proc = start(options.node ?? process.execPath, [...(options.nodeArgs ?? []), script, ...args]);
  const code = await new Promise((resolve) => proc.child.once('exit', resolve));
  const last = proc.lines.filter((l) => l.startsWith('{')).at(-1);
  if (code !== 0 || !last)
    throw new Error(`${script} ${args.join(' ')} failed (${code}):\n${proc.lines.join('\n')}`);
  return JSON.parse(last);
}

export const mb = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10;
