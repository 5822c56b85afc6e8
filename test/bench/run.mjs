#!/usr/bin/env node
/**
 * `npm run bench`: scrape path, poll path, memory and growth of obshell-exporter, each against a
 * baseline in the same run. Prints a table and writes test/bench/results/latest.json.
 *
 * One simulator process (scenario `seed`, the real 9-node scale-out answer) serves every target: the
 * N targets of the generated config share its URL under different names. Each target is an independent
 * client (own keep-alive agent, key, session and tracker), so this is the exporter's full per-target
 * work, with the cheapest agent side. The exporter runs as users run it: `node dist/src/main.js
 * --config.file=<N targets>`, in its own process, on its default 15 s schedule.
 *
 * Every server is loaded twice: with `Accept-Encoding: gzip`, as Prometheus always scrapes (the
 * baseline then serves the exporter's very gzip bytes, the Pushgateway compresses per scrape as its Go
 * library does), and without it (identity). The goals are stated on the gzip (Prometheus-like) runs.
 *
 * Options: --quick (1 run, 1 s each; 16 s on schedule), --runs=N, --duration=S, --targets=1,100,1000,
 *   --steady=S (seconds each exporter runs on its own schedule before wrk; 60),
 *   --warmup=S (seconds on that schedule left out first, after the first round and build; 15)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { URL, fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { gunzipSync } from 'node:zlib';
import {
  cpuMsOf,
  freePort,
  httpRequest,
  mb,
  median,
  rssOf,
  runJson,
  settle,
  start,
  stop,
  stopAllSync,
  waitFor,
} from './lib.mjs';
import { imageRuntime, nodeOfMajor } from '../image-node.mjs';
import { deploymentLimits, memoryCgroup, memoryFirstFlags } from './memory-limit.mjs';

const here = fileURLToPath(new URL('.', import.meta.url));
const root = join(here, '..', '..');
const main = join(root, 'dist', 'src', 'main.js');
const args = Object.fromEntries(
  process.argv.slice(2).map((a) => {
    const [k, v = 'true'] = a.replace(/^--/, '').split('=');
    return [k, v];
  }),
);
const quick = args.quick === 'true';
const runs = Number(args.runs ?? (quick ? 1 : 5));
const duration = Number(args.duration ?? (quick ? 1 : 3));
const targetCounts = (args.targets ?? '1,100,1000').split(',').map(Number);
const connections = 50;
/** How long each exporter runs on its own schedule (polls every 15 s, scraped every 15 s) before wrk. */
const steadySeconds = Number(args.steady ?? (quick ? 16 : 60));
/**
 * Left out of those figures: one interval after the first round and the first /metrics build. The
 * first build renders and compresses every target's text at once (~45 MB at 1 000 targets), JIT and
 * GC sizing settle, and V8 keeps freed pages pooled for 8 s (Node 26): RSS stands 5-25 MB over the
 * steady state for a few seconds. That start-up figure is reported on its own.
 */
const warmupSeconds = Number(args.warmup ?? 15);
const password = 'secret';

process.on('exit', stopAllSync);
for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => process.exit(130));

const log = (text) => process.stderr.write(`[bench] ${text}\n`);

function has(command) {
  return spawnSync('sh', ['-c', `command -v ${command}`]).status === 0;
}

/** wrk and the Pushgateway come from Debian; installed when missing (apt-get update once). */
function ensureTools() {
  const missing = [
    ['wrk', 'wrk'],
    ['prometheus-pushgateway', 'prometheus-pushgateway'],
  ].filter(([command]) => !has(command));
  if (missing.length === 0) return;
  const sudo = process.getuid?.() === 0 ? [] : ['sudo'];
  const run = (argv) =>
    execFileSync(argv[0], argv.slice(1), {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  log(`installing ${missing.map(([, p]) => p).join(', ')}`);
  run([...sudo, 'apt-get', 'update']);
  run([...sudo, 'apt-get', 'install', '-y', ...missing.map(([, p]) => p)]);
}

const encodings = ['gzip', 'identity'];

async function wrk(url, seconds, encoding) {
  const proc = start('wrk', [
    '-t1',
    `-c${connections}`,
    `-d${seconds}s`,
    '--timeout',
    '10s',
    ...(encoding === 'gzip' ? ['-H', 'Accept-Encoding: gzip'] : []),
    '-s',
    join(here, 'report.lua'),
    url,
  ]);
  await new Promise((resolve) => proc.child.once('exit', resolve));
  const line = proc.lines.filter((l) => l.startsWith('{')).at(-1);
  if (!line) throw new Error(`wrk failed:\n${proc.lines.join('\n')}`);
  return JSON.parse(line);
}

function configFor(count, simulatorUrl) {
  const lines = ['targets:'];
  for (let i = 0; i < count; i++) {
    lines.push(`  - name: bench-${String(i).padStart(4, '0')}`, `    urls: [${simulatorUrl}]`);
  }
  return `${lines.join('\n')}\n`;
}

/** The obshell_* families of an exposition: what the Pushgateway gets (it has its own process_* metrics). */
function obshellFamilies(text) {
  return `${text
    .split('\n\n')
    .filter((block) => block.startsWith('# HELP obshell_'))
    .join('\n\n')
    .trimEnd()}\n`;
}

/**
 * The exporter as users run it, between the bursts: its default schedule (every target polled every
 * 15 s, spread), scraped every 15 s with gzip as Prometheus does. CPU share of one core from /proc,
 * RSS sampled every second (it saws with the garbage collector, so mean and max).
 */
async function steadyState(pid, url, seconds) {
  await sleep(warmupSeconds * 1000);
  const rss = [];
  let heapUsed = NaN;
  const cpuBefore = await cpuMsOf(pid);
  const began = Date.now();
  for (let s = 0; s < seconds; s++) {
    if (s % 15 === 0) {
      const res = await httpRequest(url, { headers: { 'accept-encoding': 'gzip' } });
      heapUsed = metricValue(gunzipSync(res.body).toString('utf8'), 'nodejs_heap_size_used_bytes');
    }
    await sleep(began + (s + 1) * 1000 - Date.now());
    rss.push(await rssOf(pid));
  }
  const cpuPct = (((await cpuMsOf(pid)) - cpuBefore) / (Date.now() - began)) * 100;
  return {
    seconds,
    cpuPct,
    rssMean: rss.reduce((a, b) => a + b, 0) / rss.length,
    rssMax: Math.max(...rss),
    heapUsed,
  };
}

const metricValue = (text, name) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);

/**
 * The built exporter with `count` targets, started (by `node` with `nodeArgs`, inside `cgroup` with
 * `nodeOptions` when given) and polled once through: its process, /metrics URL, first-round time,
 * first gzip body and memory right after that first build (start-up).
 */
async function launchExporter(
  count,
  ctx,
  { cgroup, nodeOptions, node = process.execPath, nodeArgs = [], nodeEnv = {} } = {},
) {
  const configFile = join(ctx.dir, `targets-${count}.yml`);
  writeFileSync(configFile, configFor(count, ctx.simulatorUrl));
  const port = await freePort();
  const command = [
    node,
    [
      ...nodeArgs,
      main,
      `--config.file=${configFile}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--log.level=warn',
    ],
  ];
  const env = {
    ...process.env,
    ...nodeEnv,
    OBSHELL_PASSWORD: password,
    ...(nodeOptions && { NODE_OPTIONS: nodeOptions }),
  };
  const exporter = start(...(cgroup ? cgroup.wrap(...command) : command), { env });
  const url = `http://127.0.0.1:${port}/metrics`;
  const t0 = Date.now();
  await waitFor(`exporter with ${count} targets`, async () => {
    if (exporter.child.exitCode !== null)
      throw Object.assign(new Error(exporter.lines.join('\n')), { fatal: true });
    return (await httpRequest(`http://127.0.0.1:${port}/-/ready`)).status === 200;
  });
  const firstRoundMs = Date.now() - t0;
  // Asked as Prometheus asks (gzip), so the start-up figures are those of a Prometheus-scraped exporter.
  const first = await httpRequest(url, { headers: { 'accept-encoding': 'gzip' } });
  if (first.headers['content-encoding'] !== 'gzip') throw new Error('exporter did not gzip /metrics');
  const body = gunzipSync(first.body);
  const text = body.toString('utf8');
  if (!text.includes('obshell_up{target="bench-0000"} 1'))
    throw new Error('exporter did not poll the simulator');
  const startup = {
    rss: await rssOf(exporter.child.pid),
    heapUsed: metricValue(text, 'nodejs_heap_size_used_bytes'),
  };
  return { exporter, url, firstRoundMs, gzipped: first.body, body, text, startup };
}

/**
 * The largest fleet once more, as deploy/ runs it: the image's ENTRYPOINT flags on `node`
 * (deploy/docker/Dockerfile), the container's memory limit as a real memory cgroup and the
 * manifest's NODE_OPTIONS (deploy/kubernetes/deployment.yaml), on its own schedule.
 */
async function deployedBench(count, ctx, node, image) {
  const limits = deploymentLimits(root);
  const setup = {
    targets: count,
    memoryLimit: limits.memory,
    memoryLimitBytes: limits.bytes,
    nodeOptions: limits.nodeOptions,
    imageNode: image.major,
    node: node.version,
    nodeArgs: image.nodeArgs,
    env: image.env,
  };
  const cgroup = memoryCgroup(limits.bytes);
  if (!cgroup.dir) {
    log(`as deployed: not measured (${cgroup.reason})`);
    return { ...setup, skipped: cgroup.reason };
  }
  try {
    const { exporter, url, startup } = await launchExporter(count, ctx, {
      cgroup,
      nodeOptions: limits.nodeOptions,
      node: node.path,
      nodeArgs: image.nodeArgs,
      nodeEnv: image.env,
    });
    const steady = await steadyState(exporter.child.pid, url, steadySeconds);
    await stop(exporter);
    log(
      `${count} targets as deployed (${deployedSetup(setup)}), own schedule ${steady.seconds} s: CPU ${steady.cpuPct.toFixed(1)} % of a core, RSS mean ${mb(steady.rssMean)} MB, max ${mb(steady.rssMax)} MB`,
    );
    return { ...setup, startup, steady };
  } finally {
    cgroup.close();
  }
}

/**
 * As deployed on the image's Node major (fetched from npm when this machine runs another), then
 * its memory-first alternative, then on this machine's Node for comparison; on this Node only when
 * the image's cannot be had.
 */
async function deployedBenches(count, ctx) {
  const image = imageRuntime(root);
  const thisNode = { path: process.execPath, version: process.version };
  const imageNode = nodeOfMajor(image.major);
  if (imageNode.reason) log(`as deployed: on this Node instead of the image's (${imageNode.reason})`);
  const deployed = await deployedBench(count, ctx, imageNode.path ? imageNode : thisNode, image);
  const memoryFirst = imageNode.path
    ? await deployedBench(count, ctx, imageNode, {
        ...image,
        nodeArgs: [...image.nodeArgs, ...memoryFirstFlags],
      })
    : undefined;
  const onThisNode =
    imageNode.path && imageNode.path !== thisNode.path
      ? await deployedBench(count, ctx, thisNode, image)
      : undefined;
  return { deployed, deployedMemoryFirst: memoryFirst, deployedOnThisNode: onThisNode };
}

/** How the as-deployed exporter ran, for the log and the report. */
function deployedSetup(d) {
  const node = `node ${d.node}${d.nodeArgs?.length ? ` ${d.nodeArgs.join(' ')}` : ''}`;
  const image =
    d.imageNode && !d.node.startsWith(`v${d.imageNode}.`) ? ` (the image has Node ${d.imageNode})` : '';
  const env = Object.entries(d.env ?? {})
    .map(([name, value]) => ` ${name}=${value}`)
    .join('');
  return `${node}${image}, memory limit ${d.memoryLimit} as a memory cgroup,${env} NODE_OPTIONS=${d.nodeOptions}`;
}

async function scrapeBench(count, ctx) {
  const dir = ctx.dir;
  const {
    exporter,
    url: exporterUrl,
    firstRoundMs,
    gzipped,
    body,
    text,
    startup,
  } = await launchExporter(count, ctx);
  const gzipBytes = gzipped.length;

  const steady = await steadyState(exporter.child.pid, exporterUrl, steadySeconds);
  log(
    `${count} targets, own schedule ${steady.seconds} s: CPU ${steady.cpuPct.toFixed(1)} % of a core, RSS mean ${mb(steady.rssMean)} MB, max ${mb(steady.rssMax)} MB`,
  );

  const bodyFile = join(dir, `body-${count}.prom`);
  writeFileSync(bodyFile, body);
  const gzipFile = join(dir, `body-${count}.prom.gz`);
  writeFileSync(gzipFile, gzipped);
  const basePort = await freePort();
  const baseline = start(process.execPath, [
    join(here, 'baseline-server.mjs'),
    bodyFile,
    gzipFile,
    String(basePort),
  ]);
  const baselineUrl = `http://127.0.0.1:${basePort}/metrics`;
  await waitFor('baseline', async () => (await httpRequest(baselineUrl)).status === 200);

  const group = `${ctx.pushgatewayUrl}/metrics/job/obshell-exporter`;
  const put = await httpRequest(group, { method: 'PUT', body: obshellFamilies(text) });
  if (put.status >= 300) throw new Error(`pushgateway PUT: ${put.status} ${put.body}`);
  const pushed = (await httpRequest(`${ctx.pushgatewayUrl}/metrics`)).body;
  if (!pushed.includes('obshell_up{')) throw new Error('pushgateway does not serve the pushed metrics');

  const servers = {
    exporter: { url: exporterUrl, pid: exporter.child.pid },
    baseline: { url: baselineUrl, pid: baseline.child.pid },
    pushgateway: { url: `${ctx.pushgatewayUrl}/metrics`, pid: ctx.pushgatewayPid },
  };
  const results = Object.fromEntries(
    encodings.map((e) => [e, { exporter: [], baseline: [], pushgateway: [] }]),
  );
  // MB-sized bodies take seconds each on the slow servers: give them time to complete some.
  const seconds = count >= 1000 ? Math.max(duration, 10) : duration;
  // Exporter and baseline always run back to back, so each run gives one paired ratio in which
  // the machine's drift (single runs of one server differ up to 2x here) hits both alike; their
  // order flips each run and the Pushgateway (CPU-heavy, slow to settle) comes before or after
  // the pair, so no server always follows it.
  const orders = [
    ['exporter', 'baseline', 'pushgateway'],
    ['pushgateway', 'baseline', 'exporter'],
    ['baseline', 'exporter', 'pushgateway'],
    ['pushgateway', 'exporter', 'baseline'],
  ];
  // A warm-up run, not counted, for the two Node servers: the first seconds of load pay for JIT
  // compilation and the major GC that clears start-up garbage (measured: the exporter's first
  // run at 100 targets 10 000 req/s at 102 µs of CPU per request, the next ones 13 000-17 000).
  // The Pushgateway is compiled ahead of time.
  for (const { url, pid } of [servers.exporter, servers.baseline]) {
    await wrk(url, 2, 'gzip');
    await settle(pid);
  }
  for (let r = 0; r < runs; r++) {
    const order = orders[r % orders.length] ?? [];
    for (const encoding of encodings) {
      for (const name of order) {
        const { url, pid } = servers[name];
        await sleep(1000);
        const res = await wrk(url, seconds, encoding);
        results[encoding][name].push(res);
        // The next run starts once this server is done with what wrk left queued (see settle).
        const settledMs = await settle(pid);
        log(
          `${count} targets, run ${r + 1}/${runs}, ${encoding}, ${name}: ${res.rps.toFixed(1)} req/s, p99 ${(res.p99_us / 1000).toFixed(1)} ms${settledMs > 1000 ? `, busy ${(settledMs / 1000).toFixed(1)} s after wrk` : ''}`,
        );
      }
    }
  }
  const loaded = { rss: await rssOf(exporter.child.pid) };
  const after = (await httpRequest(exporterUrl)).body.toString('utf8');
  loaded.heapUsed = metricValue(after, 'nodejs_heap_size_used_bytes');
  await stop(exporter);
  await stop(baseline);
  await httpRequest(group, { method: 'DELETE' });

  const summarise = (byServer) => {
    const summary = Object.fromEntries(
      Object.entries(byServer).map(([name, list]) => [
        name,
        {
          rps: median(list.map((x) => x.rps)),
          p50Ms: median(list.map((x) => x.p50_us)) / 1000,
          p99Ms: median(list.map((x) => x.p99_us)) / 1000,
          errors: list.reduce((n, x) => n + x.errors + x.timeouts + x.non2xx, 0),
          runs: list,
        },
      ]),
    );
    const paired = byServer.exporter.map((x, i) => x.rps / (byServer.baseline[i]?.rps ?? NaN));
    return {
      ...summary,
      // The goal's figure: the median of the runs' paired ratios (see the order above).
      ratioToBaseline: median(paired),
      pairedRatios: paired,
      ratioOfMedians: summary.exporter.rps / summary.baseline.rps,
      // A Pushgateway that completed nothing counts as 1 request in the run: the ratio is then a lower bound.
      ratioToPushgateway: summary.exporter.rps / Math.max(summary.pushgateway.rps, 1 / seconds),
      pushgatewayCompleted: summary.pushgateway.rps > 0,
    };
  };
  return {
    targets: count,
    bodyBytes: body.length,
    gzipBytes,
    pushedBytes: pushed.length,
    firstRoundMs,
    exporterMemory: { startup, loaded },
    steady,
    seconds,
    // Top level: the gzip (Prometheus-like) runs, on which the goals are stated.
    ...summarise(results.gzip),
    identity: summarise(results.identity),
  };
}

/**
 * poll-cpu.mjs `runs` times, each in a fresh process: the run with the median CPU per poll, and
 * every run's figure (single runs of one case differ by up to 1.6× on this machine).
 */
async function pollCpu(args) {
  const all = [];
  for (let r = 0; r < runs; r++) all.push(await runJson(join(here, 'poll-cpu.mjs'), args));
  const perRun = all.map((x) => x.cpuMsPerPoll);
  const mid = median(perRun);
  const closest = all.reduce((a, b) =>
    Math.abs(b.cpuMsPerPoll - mid) < Math.abs(a.cpuMsPerPoll - mid) ? b : a,
  );
  // The same process's bare node:http GETs (see poll-cpu.mjs): the machine's speed in that run.
  const bare = median(all.map((x) => x.bareMsPerRequest));
  const cold = median(all.map((x) => x.coldMsPerPoll));
  return {
    ...closest,
    cpuMsPerPoll: mid,
    cpuMsPerPollRuns: perRun,
    bareMsPerRequest: bare,
    coldMsPerPoll: cold,
  };
}

function logPollCpu(what, res) {
  const each = res.cpuMsPerPollRuns.map((x) => x.toFixed(3)).join(', ');
  log(
    `poll CPU, ${what}: ${res.cpuMsPerPoll.toFixed(3)} ms/poll (runs: ${each}), first ${res.coldPolls} polls ${res.coldMsPerPoll.toFixed(3)} ms/poll, bare GET ${res.bareMsPerRequest.toFixed(3)} ms`,
  );
}

async function pollBench(ctx) {
  const byTargets = [];
  for (const count of targetCounts) {
    const res = await pollCpu([ctx.simulatorUrl, String(count), quick ? '300' : '2000']);
    logPollCpu(`${count} targets, 9 nodes`, res);
    byTargets.push({ nodes: 9, ...res });
  }
  // A running task is mapped and rendered again at every poll (its elapsed time moves).
  const res = await pollCpu([ctx.runningUrl, '100', quick ? '300' : '2000']);
  logPollCpu('100 targets, running task', res);
  const running = { nodes: 9, task: 'running', ...res };
  const byNodes = [];
  for (const nodes of [9, 100, 1000]) {
    const port = await freePort();
    const agent = start(process.execPath, [
      join(here, 'dag-agent.mjs'),
      String(nodes),
      String(port),
      ctx.simulatorUrl,
    ]);
    await waitFor('dag agent', async () => agent.lines.includes('listening'));
    const polls = quick ? 100 : nodes >= 1000 ? 200 : 1000;
    const res = await pollCpu([`http://127.0.0.1:${port}`, '10', String(polls)]);
    await stop(agent);
    logPollCpu(`10 targets, ${nodes} nodes`, res);
    byNodes.push({ nodes, ...res });
  }
  return { byTargets, running, byNodes, promotion: await promotionBench(ctx) };
}

/**
 * promotion.mjs on this Node and on the image's: bytes of each request that outlive two
 * young-generation GCs (see there). Deterministic, unlike CPU time on a shared machine.
 */
async function promotionBench(ctx) {
  const nodes = [{ path: process.execPath, version: process.version }];
  const image = nodeOfMajor(imageRuntime(root).major);
  if (image.path && image.path !== process.execPath) nodes.push(image);
  const results = [];
  for (const node of nodes) {
    const res = await runJson(join(here, 'promotion.mjs'), [ctx.simulatorUrl, quick ? '20' : '100'], {
      node: node.path,
      nodeArgs: ['--expose-gc'],
    });
    const why = await runJson(join(here, 'pretenured-closures.mjs'), [], {
      node: node.path,
      nodeArgs: ['--expose-gc'],
    });
    log(
      `promoted per request on Node ${res.node}: bare GET ${res.bareBytesPerRequest} B, transport ${res.transportBytesPerRequest} B, poll ${res.pollBytesPerRequest} B; per object: property-assigned closure ${why.propertyAssignedClosureBytes} B, local-assigned ${why.localAssignedClosureBytes} B, Writable ${why.writableBytes} B, Readable ${why.readableBytes} B`,
    );
    results.push({ ...res, ...why });
  }
  return results;
}

function table(rows, columns) {
  const widths = columns.map(([h, f]) => Math.max(h.length, ...rows.map((r) => String(f(r)).length)));
  const line = (cells) => cells.map((c, i) => String(c).padStart(widths[i])).join('  ');
  return [line(columns.map(([h]) => h)), ...rows.map((r) => line(columns.map(([, f]) => f(r))))].join('\n');
}

const fixed = (digits) => (x) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

function report(result) {
  const out = [];
  const f1 = fixed(1);
  const f2 = fixed(2);
  const f3 = fixed(3);
  out.push(
    `obshell-exporter bench: ${result.machine.cpu} x${result.machine.cores}, ${result.machine.memGb} GB, node ${result.machine.node}`,
  );
  const scrapeColumns = [
    ['targets', (r) => r.targets],
    ['body MB', (r) => f2(r.bodyBytes / 1048576)],
    ['gzip MB', (r) => f2(r.gzipBytes / 1048576)],
    ['exporter rps', (r) => f1(r.exporter.rps)],
    ['p50 ms', (r) => f1(r.exporter.p50Ms)],
    ['p99 ms', (r) => f1(r.exporter.p99Ms)],
    ['baseline rps', (r) => f1(r.baseline.rps)],
    ['p99 ms', (r) => f1(r.baseline.p99Ms)],
    ['pushgw rps', (r) => f1(r.pushgateway.rps)],
    ['p99 ms', (r) => (r.pushgateway.rps > 0 ? f1(r.pushgateway.p99Ms) : '-')], // none answered: no latency
    ['exp/base', (r) => f2(r.ratioToBaseline)],
    ['of medians', (r) => f2(r.ratioOfMedians)],
    ['exp/pushgw', (r) => `${r.pushgatewayCompleted ? '' : '>'}${f1(r.ratioToPushgateway)}`],
    ['errors', (r) => r.exporter.errors],
  ];
  for (const [encoding, pick] of [
    ['Accept-Encoding: gzip, as Prometheus scrapes; goals stated on these', (r) => r],
    ['identity (no Accept-Encoding)', (r) => ({ ...r, ...r.identity })],
  ]) {
    out.push(
      `\nScrape path, ${encoding}: wrk -t1 -c${connections} -d${duration}s (10 s at 1000 targets), median of ${runs} run(s), 9-node tasks; exp/base = median of the runs' paired ratios (exporter and baseline back to back), of medians = median exporter / median baseline`,
    );
    out.push(table(result.scrape.map(pick), scrapeColumns));
  }
  const { warmUpPolls, coldPolls } = result.poll.byTargets[0];
  out.push(
    `\nPoll path: CPU per target poll (process.cpuUsage), median of ${runs} process(es), after a warm-up of ${warmUpPolls} polls (the JIT's steady state); cold = the first ${coldPolls} polls of a fresh process; render = one /metrics render after a round; finished = the same answer every poll; bare GET = the same process's node:http GETs of the same answer, nothing else (the machine's speed in that run)`,
  );
  out.push(
    table(
      [...result.poll.byTargets, result.poll.running, ...result.poll.byNodes],
      [
        ['task', (r) => r.task ?? 'finished'],
        ['targets', (r) => r.targets],
        ['nodes', (r) => r.nodes],
        ['polls', (r) => r.polls],
        ['CPU ms/poll', (r) => f3(r.cpuMsPerPoll)],
        ['cold ms/poll', (r) => f3(r.coldMsPerPoll)],
        ['bare GET ms', (r) => f3(r.bareMsPerRequest)],
        ['poll/bare', (r) => f2(r.cpuMsPerPoll / r.bareMsPerRequest)],
        ['render ms', (r) => f2(r.renderMsAfterPoll)],
        ['body KB', (r) => f1(r.bodyBytes / 1024)],
      ],
    ),
  );
  out.push(
    "\nWhat a request leaves for the major GC: bytes promoted per request by two young-generation GCs once the requests are done (promotion.mjs; bare GET = node:http, transport = got with the auth hook, poll = the whole client poll), and why (pretenured-closures.mjs, bytes per object holding 8 KB: a closure assigned straight to a property is allocated old and keeps what it captured through young GCs; Node 24's Writable makes one)",
  );
  out.push(
    table(result.poll.promotion ?? [], [
      ['node', (r) => r.node],
      ['bare GET B', (r) => r.bareBytesPerRequest],
      ['transport B', (r) => r.transportBytesPerRequest],
      ['poll B', (r) => r.pollBytesPerRequest],
      ['o.f = () => o', (r) => r.propertyAssignedClosureBytes],
      ['via a local', (r) => r.localAssignedClosureBytes],
      ['Writable', (r) => r.writableBytes],
      ['Readable', (r) => r.readableBytes],
    ]),
  );
  const m = result.memory;
  out.push(
    `\nExporter process: RSS at start-up (right after the first round and the first /metrics build); on its own schedule for ${steadySeconds} s after ${warmupSeconds} s of warm-up (polled and scraped every 15 s): CPU and RSS; after the wrk runs`,
  );
  out.push(
    table(result.scrape, [
      ['targets', (r) => r.targets],
      ['CPU % core', (r) => f1(r.steady.cpuPct)],
      ['RSS mean MB', (r) => mb(r.steady.rssMean)],
      ['RSS max MB', (r) => mb(r.steady.rssMax)],
      ['RSS start-up MB', (r) => mb(r.exporterMemory.startup.rss)],
      ['heap start-up MB', (r) => mb(r.exporterMemory.startup.heapUsed)],
      ['RSS loaded MB', (r) => mb(r.exporterMemory.loaded.rss)],
      ['heap loaded MB', (r) => mb(r.exporterMemory.loaded.heapUsed)],
    ]),
  );
  const d = result.deployed;
  for (const [title, r] of [
    ['As deployed', d],
    ['Its memory-first alternative (deployment.yaml)', result.deployedMemoryFirst],
    ["As deployed on this machine's Node, for comparison", result.deployedOnThisNode],
  ]) {
    if (!r) continue;
    out.push(
      r.skipped
        ? `${title} (${deployedSetup(r)}): not measured, ${r.skipped}`
        : `${title} (deploy/: ${deployedSetup(r)}), ${r.targets} targets on their own schedule for ${r.steady.seconds} s after ${warmupSeconds} s of warm-up: CPU ${f1(r.steady.cpuPct)} % of a core, RSS mean ${mb(r.steady.rssMean)} MB, max ${mb(r.steady.rssMax)} MB (start-up ${mb(r.startup.rss)} MB)`,
    );
  }
  out.push(
    `Churn: ${m.churns} task churns at ${m.targets} targets (after warm-up -> median of 10 readings in each half):` +
      ` RSS ${mb(m.warm.rss)} -> ${mb(m.half.rss)} -> ${mb(m.end.rss)} MB (2nd half ${f1(m.rssGrowthPct)} %),` +
      ` heap ${mb(m.warm.heapUsed)} -> ${mb(m.half.heapUsed)} -> ${mb(m.end.heapUsed)} MB (2nd half ${f1(m.heapGrowthPct)} %)`,
  );
  const s0 = result.scrape[0];
  const p0 = result.poll.byTargets[0];
  const n0 = result.poll.byNodes[0];
  out.push('\nGrowth (x the smallest case; linear in targets means x = targets ratio for body size)');
  out.push(
    table(
      result.scrape.map((r, i) => ({ r, p: result.poll.byTargets[i] })),
      [
        ['targets', ({ r }) => r.targets],
        ['body', ({ r }) => f1(r.bodyBytes / s0.bodyBytes)],
        ['exporter rps', ({ r }) => f3(r.exporter.rps / s0.exporter.rps)],
        ['p99', ({ r }) => f1(r.exporter.p99Ms / s0.exporter.p99Ms)],
        ['RSS start-up', ({ r }) => f2(r.exporterMemory.startup.rss / s0.exporterMemory.startup.rss)],
        ['CPU/poll', ({ p }) => (p ? f2(p.cpuMsPerPoll / p0.cpuMsPerPoll) : '-')],
        ['render', ({ p }) => (p ? f1(p.renderMsAfterPoll / p0.renderMsAfterPoll) : '-')],
      ],
    ),
  );
  out.push(
    table(result.poll.byNodes, [
      ['nodes', (r) => r.nodes],
      ['CPU/poll', (r) => f2(r.cpuMsPerPoll / n0.cpuMsPerPoll)],
      ['render', (r) => f1(r.renderMsAfterPoll / n0.renderMsAfterPoll)],
      ['body', (r) => f1(r.bodyBytes / n0.bodyBytes)],
    ]),
  );
  const at = (n) => result.scrape.find((r) => r.targets === n);
  const deployedAt1000 = !d.skipped && d.targets === 1000;
  const mf = result.deployedMemoryFirst;
  const memoryFirstAt1000 = mf && !mf.skipped && mf.targets === 1000;
  // Every reading on the schedule, after the warm-up (the issue's "after warm-up").
  const rssUnder150 = (r) => r.steady.rssMax < 150 * 1048576;
  const startupOf = (r) => (r.startup ?? r.exporterMemory.startup).rss;
  const goals = [
    [
      'exporter/baseline >= 0.8 at 100 targets',
      at(100) && at(100).ratioToBaseline >= 0.8,
      at(100) &&
        `${f2(at(100).ratioToBaseline)} (median of the paired runs ${at(100)
          .pairedRatios.map(f2)
          .join(', ')}; ratio of the medians ${f2(at(100).ratioOfMedians)})`,
    ],
    [
      'exporter/pushgateway >= 10 (every size)',
      result.scrape.every((r) => r.ratioToPushgateway >= 10),
      result.scrape.map((r) => f1(r.ratioToPushgateway)).join(' / '),
    ],
    [
      'p99 < 50 ms at 1000 targets',
      at(1000) && at(1000).exporter.p99Ms < 50,
      at(1000) && `${f1(at(1000).exporter.p99Ms)} ms`,
    ],
    [
      '<= 1 ms CPU per 9-node poll',
      result.poll.byTargets.every((p) => p.cpuMsPerPoll <= 1),
      `${result.poll.byTargets.map((p) => f3(p.cpuMsPerPoll)).join(' / ')} (a bare node:http GET in the same processes: ${result.poll.byTargets.map((p) => f3(p.bareMsPerRequest)).join(' / ')}; the first ${result.poll.byTargets[0].coldPolls} polls of a fresh process: ${result.poll.byTargets.map((p) => f3(p.coldMsPerPoll)).join(' / ')})`,
    ],
    [
      '1000 targets every 15 s < 7 % of a core (the whole exporter process on its schedule)',
      at(1000) && at(1000).steady.cpuPct < 7,
      at(1000) &&
        `${f1(at(1000).steady.cpuPct)} % (default heap)${deployedAt1000 ? `; ${f1(d.steady.cpuPct)} % as deployed` : ''}`,
    ],
    [
      'RSS < 150 MB at 1000 targets after warm-up (default heap, as deployed, or its memory-first alternative)',
      at(1000) &&
        (rssUnder150(at(1000)) ||
          (deployedAt1000 && rssUnder150(d)) ||
          (memoryFirstAt1000 && rssUnder150(mf))),
      at(1000) &&
        `default heap: ${mb(at(1000).steady.rssMean)} MB mean / ${mb(at(1000).steady.rssMax)} MB max on schedule (${mb(startupOf(at(1000)))} MB at start-up), ${mb(at(1000).exporterMemory.loaded.rss)} MB after wrk` +
          (deployedAt1000
            ? `; as deployed: ${mb(d.steady.rssMean)} MB mean / ${mb(d.steady.rssMax)} MB max (${mb(startupOf(d))} MB at start-up)`
            : '') +
          (memoryFirstAt1000
            ? `; memory first: ${mb(mf.steady.rssMean)} MB mean / ${mb(mf.steady.rssMax)} MB max (${mb(startupOf(mf))} MB at start-up) at ${f1(mf.steady.cpuPct)} % of a core`
            : ''),
    ],
    [
      'CPU and RSS goals both met in one of those setups',
      at(1000) &&
        [at(1000), deployedAt1000 && d, memoryFirstAt1000 && mf].some(
          (r) => r && r.steady.cpuPct < 7 && rssUnder150(r),
        ),
      at(1000) && (deployedAt1000 ? 'see the two lines above' : 'as deployed not measured'),
    ],
    [
      'as deployed, the start-up peak (first round and first /metrics build) within the memory limit',
      deployedAt1000 ? startupOf(d) < d.memoryLimitBytes : undefined,
      deployedAt1000 && `${mb(startupOf(d))} MB of ${d.memoryLimit}`,
    ],
    [
      '< 5 % growth over the churn',
      m.rssGrowthPct < 5 && m.heapGrowthPct < 5,
      `RSS ${f1(m.rssGrowthPct)} %, heap ${f1(m.heapGrowthPct)} %`,
    ],
  ];
  out.push('\nGoals');
  // A goal not measured in this run has `undefined` or `false` for its value (the `&&` chains above).
  for (const [goal, ok, value] of goals)
    out.push(`  ${ok ? 'PASS' : ok === undefined ? 'n/a ' : 'FAIL'}  ${goal}: ${value || '-'}`);
  return out.join('\n');
}

async function mainBench() {
  const began = Date.now();
  ensureTools();
  log('npm run build');
  execFileSync('npm', ['run', 'build'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  const dir = mkdtempSync(join(tmpdir(), 'obshell-bench-'));
  try {
    const simPort = await freePort();
    const simulator = start(process.execPath, [
      main,
      'simulate',
      `--listen=127.0.0.1:${simPort}`,
      '--scenario=seed',
      `--password=${password}`,
    ]);
    const simulatorUrl = `http://127.0.0.1:${simPort}`;
    await waitFor('simulator', async () => (await httpRequest(`${simulatorUrl}/api/v1/info`)).status === 200);
    const runningPort = await freePort();
    const runningSimulator = start(process.execPath, [
      main,
      'simulate',
      `--listen=127.0.0.1:${runningPort}`,
      '--scenario=running',
      `--password=${password}`,
    ]);
    const runningUrl = `http://127.0.0.1:${runningPort}`;
    await waitFor('simulator', async () => (await httpRequest(`${runningUrl}/api/v1/info`)).status === 200);
    const pgPort = await freePort();
    const pushgateway = start('prometheus-pushgateway', [
      `--web.listen-address=127.0.0.1:${pgPort}`,
      '--log.level=warn',
    ]);
    const pushgatewayUrl = `http://127.0.0.1:${pgPort}`;
    await waitFor('pushgateway', async () => (await httpRequest(`${pushgatewayUrl}/-/ready`)).status === 200);
    const ctx = { dir, simulatorUrl, runningUrl, pushgatewayUrl, pushgatewayPid: pushgateway.child.pid };

    const scrape = [];
    for (const count of targetCounts) scrape.push(await scrapeBench(count, ctx));
    const { deployed, deployedMemoryFirst, deployedOnThisNode } = await deployedBenches(
      Math.max(...targetCounts),
      ctx,
    );
    await stop(pushgateway);
    const poll = await pollBench(ctx);
    log('memory churn');
    const memory = await runJson(join(here, 'churn.mjs'), ['100', quick ? '2000' : '10000'], {
      nodeArgs: ['--expose-gc'],
    });
    await stop(simulator);
    await stop(runningSimulator);

    const result = {
      date: new Date().toISOString(),
      machine: {
        cpu: cpus()[0]?.model.trim() ?? 'unknown',
        cores: cpus().length,
        memGb: Math.round(totalmem() / 1024 ** 3),
        node: process.version,
        wrk: String(spawnSync('wrk', ['-v']).stdout).split('\n')[0] ?? '',
      },
      options: { runs, duration, connections, targetCounts },
      seconds: Math.round((Date.now() - began) / 1000),
      scrape,
      deployed,
      deployedMemoryFirst,
      deployedOnThisNode,
      poll,
      memory,
    };
    const text = report(result);
    process.stdout.write(`${text}\n`);
    result.report = text;
    writeFileSync(join(here, 'results', 'latest.json'), `${JSON.stringify(result, null, 2)}\n`);
    log(`wrote test/bench/results/latest.json in ${result.seconds} s`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await mainBench();
process.exit(0);
