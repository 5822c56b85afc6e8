/**
 * Poll path, in process: what one target poll costs the exporter in CPU (auth header, request, JSON
 * parse, validation, mapping, snapshot, cumulative metrics), from process.cpuUsage over many cycles.
 * The agent (simulator or dag-agent.mjs) runs in another process, so its CPU is not counted. Each cycle
 * polls every target as the poller does (at most 64 at a time), then renders /metrics once (gzip, as
 * Prometheus asks), timed apart.
 *
 * The same run measures a baseline: the same number of bare `node:http` GETs of the task route
 * (keep-alive, at most 64 at a time, one header signed up front, the body read into a Buffer and
 * nothing else), the least an HTTP poll can cost in Node on this machine that day. Its ratio to
 * the poll shows what the exporter adds (got, auth, validation, mapping, metrics), and it moves
 * with the machine's speed as the poll does.
 *
 * node poll-cpu.mjs <agent url> <targets> <polls to measure>
 */
import { Agent } from 'node:http';
import { Writable } from 'node:stream';
import { buildAuthHeader, parsePublicKey, rootHeaderName } from '../../dist/src/obshell/auth.js';
import { maintenanceTaskPath } from '../../dist/src/obshell/client.js';
import { createExporterMetrics } from '../../dist/src/metrics/registry.js';
import { createLogger } from '../../dist/src/logger.js';
import { createObshellClient } from '../../dist/src/obshell/client.js';
import { recordPoll } from '../../dist/src/record-poll.js';
import { createLimiter } from '../../dist/src/schedule.js';
import { TargetTracker } from '../../dist/src/target.js';
import { pinTickObjectShape } from '../../dist/src/tick-shape.js';
import { bareGet } from './lib.mjs';

// As the exporter's main does at start (src/tick-shape.ts).
await pinTickObjectShape();

const [url, targetsArg, pollsArg] = process.argv.slice(2);
const targetCount = Number(targetsArg);
const cycles = Math.max(3, Math.ceil(Number(pollsArg) / targetCount));
const limits = { maxTaskTypes: 50, maxNodes: 500, maxLabelLength: 128 };
const logger = createLogger({ level: 'warn', format: 'json' }, new Writable({ write: (_c, _e, cb) => cb() }));

/**
 * The clients' clock: one default poll interval (15 s) later at every cycle, so auth headers are
 * reused as on the default schedule (signed for 90 s, reused while 60 s are left: one RSA
 * operation per three polls), not across cycles that run back to back in real time.
 */
const pollIntervalMs = 15_000;
let clock = Date.now();
const targets = Array.from({ length: targetCount }, (_, i) => ({
  tracker: new TargetTracker(`bench-${String(i).padStart(4, '0')}`, {
    watchedSince: Date.now() / 1000 - 3600,
    rules: [],
    limits,
  }),
  client: createObshellClient({ urls: [url], password: () => 'secret', now: () => clock }),
}));
const metrics = createExporterMetrics({
  buildInfo: { version: 'bench', revision: 'bench', nodejsVersion: process.version },
});
const limit = createLimiter(64);

async function cycle() {
  clock += pollIntervalMs;
  await Promise.all(
    targets.map((t) =>
      limit(async () => {
        const started = Date.now();
        const outcome = await t.client.fetchLastMaintenanceTask();
        if (outcome.kind !== 'ok') throw new Error(`poll failed: ${JSON.stringify(outcome)}`);
        const timing = { startedAt: started / 1000, durationSeconds: (Date.now() - started) / 1000 };
        recordPoll(t.tracker, outcome, timing, { metrics, logger });
      }),
    ),
  );
}

const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';
const cpuMs = (u) => (u.user + u.system) / 1000;
/** One cycle, then one /metrics render as Prometheus scrapes (gzip): the CPU of each, in ms. */
async function cycleAndRender() {
  const before = process.cpuUsage();
  await cycle();
  const poll = cpuMs(process.cpuUsage(before));
  const r = process.cpuUsage();
  const zipped = await metrics.registry.exposition(PROMETHEUS_CONTENT_TYPE, 'gzip');
  return { poll, render: cpuMs(process.cpuUsage(r)), zipped };
}

/**
 * Warm-up (keys, /info, JIT): the measured loop itself, for at least two cycles and 5 000 polls.
 * The poll path's functions are optimised one by one as their call counts build up, so the CPU
 * per poll keeps falling for 3 000-5 000 polls of a fresh process; and a warm-up without the
 * renders left the first few hundred measured polls dearer again (test/bench/HISTORY.md). What a
 * fresh process pays is reported apart: its first 1 000 polls (`coldMsPerPoll`).
 */
const warmUpPolls = 5000;
const coldPolls = 1000;
let coldCpu = 0;
let coldDone = 0;
for (let done = 0; done < Math.max(2 * targetCount, warmUpPolls); done += targetCount) {
  const { poll } = await cycleAndRender();
  if (coldDone < coldPolls) {
    coldCpu += poll;
    coldDone += targetCount;
  }
}
let pollCpu = 0;
const renders = [];
let bodyBytes = 0;
for (let i = 0; i < cycles; i++) {
  const { poll, render, zipped } = await cycleAndRender();
  pollCpu += poll;
  renders.push(render);
  bodyBytes = zipped.readUInt32LE(zipped.length - 4); // the gzip trailer's ISIZE: the text's length
}
for (const t of targets) t.client.close();

const secret = JSON.parse((await bareGet(`${url}/api/v1/secret`, {})).body.toString('utf8'));
const bare = {
  agent: new Agent({ keepAlive: true, maxSockets: 64 }),
  headers: {
    [rootHeaderName]: buildAuthHeader({
      publicKey: parsePublicKey(secret.data.public_key),
      password: 'secret',
      uri: maintenanceTaskPath,
      expiresAt: Math.floor(Date.now() / 1000) + 3600,
    }),
  },
};
async function bareRound() {
  await Promise.all(
    targets.map(() =>
      limit(async () => {
        const { status } = await bareGet(`${url}${maintenanceTaskPath}`, bare);
        if (status !== 200) throw new Error(`bare GET: ${status}`);
      }),
    ),
  );
}
for (let done = 0; done < Math.max(2 * targetCount, warmUpPolls); done += targetCount) await bareRound();
const bareBefore = process.cpuUsage();
for (let i = 0; i < cycles; i++) await bareRound();
const bareCpu = cpuMs(process.cpuUsage(bareBefore));
bare.agent.destroy();
renders.sort((a, b) => a - b);
process.stdout.write(
  `${JSON.stringify({
    targets: targetCount,
    polls: cycles * targetCount,
    cpuMsPerPoll: pollCpu / (cycles * targetCount),
    coldMsPerPoll: coldCpu / coldDone,
    warmUpPolls,
    coldPolls,
    bareMsPerRequest: bareCpu / (cycles * targetCount),
    renderMsAfterPoll: renders[Math.floor(renders.length / 2)],
    bodyBytes,
  })}\n`,
);
process.exit(0);
