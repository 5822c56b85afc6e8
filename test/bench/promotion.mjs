/**
 * What a poll leaves for the major GC: the bytes of one request's objects that outlive two
 * young-generation GCs (and so are promoted to the old generation) although the request is done
 * and the process idle (why: pretenured-closures.mjs). It is one of the two reasons a poll's
 * objects reach the old generation, the other being requests still in flight across two
 * young-generation GCs (README, Performance), and unlike CPU time it does not move with the
 * machine's load: the same build gives the same figure run after run.
 *
 * Three ways to fetch the same answer, each `polls` times one after another, after a full GC:
 * - bare: node:http GET with a keep-alive agent, the body read into a Buffer (the least possible);
 * - transport: the exporter's HTTP layer (got, with its auth header hook) alone;
 * - poll: the exporter's whole obshell client poll (transport, envelope, digest, DAG reuse).
 * Then two young-generation GCs, and the old generation's growth per request. Needs --expose-gc.
 *
 * node --expose-gc promotion.mjs <agent url> <polls>
 */
import { Agent } from 'node:http';
import { getHeapSpaceStatistics } from 'node:v8';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildAuthHeader, parsePublicKey, rootHeaderName } from '../../dist/src/obshell/auth.js';
import { createObshellClient, maintenanceTaskPath } from '../../dist/src/obshell/client.js';
import { createTransport } from '../../dist/src/obshell/transport.js';
import { bareGet } from './lib.mjs';

const [url, pollsArg] = process.argv.slice(2);
const polls = Number(pollsArg ?? 100);
const password = 'secret';
const rounds = 5;

const secret = JSON.parse((await bareGet(`${url}/api/v1/secret`, {})).body.toString('utf8'));
const publicKey = parsePublicKey(secret.data.public_key);
const agent = new Agent({ keepAlive: true });
const headers = {
  [rootHeaderName]: buildAuthHeader({
    publicKey,
    password,
    uri: maintenanceTaskPath,
    expiresAt: Math.floor(Date.now() / 1000) + 3600,
  }),
};
const transport = createTransport({
  timeoutMs: 10_000,
  maxResponseBytes: 16 * 1024 * 1024,
  headerTtlSeconds: 60,
  headerReuseSeconds: 30,
  now: Date.now,
  unixSockets: false,
});
const auth = { headerName: rootHeaderName, publicKey, password: () => password };
const client = createObshellClient({ urls: [url], password: () => password });

const ways = {
  bare: async () => {
    const { status } = await bareGet(`${url}${maintenanceTaskPath}`, { agent, headers });
    if (status !== 200) throw new Error(`bare GET: HTTP ${status}`);
  },
  transport: async () => {
    const result = await transport.get(`${url}${maintenanceTaskPath}`, { auth });
    if (result.kind !== 'answer' || result.answer.status !== 200) throw new Error('transport GET failed');
  },
  poll: async () => {
    const outcome = await client.fetchLastMaintenanceTask();
    if (outcome.kind !== 'ok') throw new Error(`poll failed: ${outcome.kind}`);
  },
};

const oldSpaceUsed = () =>
  getHeapSpaceStatistics().find((s) => s.space_name === 'old_space')?.space_used_size ?? 0;

async function promotedPerRequest(fetchOnce) {
  for (let i = 0; i < 200; i++) await fetchOnce(); // JIT, sockets, caches
  const perRound = [];
  for (let r = 0; r < rounds; r++) {
    globalThis.gc(); // an old generation of live objects only
    await sleep(20);
    const before = oldSpaceUsed();
    for (let i = 0; i < polls; i++) await fetchOnce();
    await sleep(50); // every request done, the process idle
    globalThis.gc({ type: 'minor' }); // survivors copied once ...
    await sleep(5);
    globalThis.gc({ type: 'minor' }); // ... and promoted if they survive again
    await sleep(5);
    perRound.push((oldSpaceUsed() - before) / polls);
  }
  perRound.sort((a, b) => a - b);
  return perRound[Math.floor(perRound.length / 2)];
}

const result = { node: process.version, polls };
for (const [name, fetchOnce] of Object.entries(ways)) {
  result[`${name}BytesPerRequest`] = Math.round(await promotedPerRequest(fetchOnce));
}
transport.close();
client.close();
agent.destroy();
process.stdout.write(`${JSON.stringify(result)}\n`);
process.exit(0);
