/**
 * A minimal obshell agent for the poll-path bench: /api/v1/info and /api/v1/secret copied from the
 * simulator (so the client's auth v2 header is built with a real key), and the maintain route answering
 * the seed scale-out DAG stretched to N nodes. It does not verify the header: its CPU is not measured.
 */
import { Buffer } from 'node:buffer';
import { readFileSync } from 'node:fs';
import { createServer, request } from 'node:http';
import { URL } from 'node:url';

const [nodesArg, port, simulatorUrl] = process.argv.slice(2);
const nodes = Number(nodesArg);

function get(url) {
  return new Promise((resolve, reject) => {
    request(url, (res) => {
      let text = '';
      res.on('data', (c) => (text += c));
      res.on('end', () => resolve(text));
    })
      .on('error', reject)
      .end();
  });
}

const seed = JSON.parse(
  readFileSync(new URL('../fixtures/obshell/seed-scale-out.json', import.meta.url), 'utf8'),
);
const dag = JSON.parse(JSON.stringify(seed.data));
dag.nodes = Array.from({ length: nodes }, (_, i) => ({
  ...seed.data.nodes[i % seed.data.nodes.length],
  node_id: i + 1,
}));
dag.stage = nodes;
dag.max_stage = nodes;
const task = JSON.stringify({ ...seed, data: dag });
const info = await get(`${simulatorUrl}/api/v1/info`);
const secret = await get(`${simulatorUrl}/api/v1/secret`);

createServer((req, res) => {
  const path = (req.url ?? '').split('?')[0];
  const body = path === '/api/v1/info' ? info : path === '/api/v1/secret' ? secret : task;
  res.writeHead(200, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}).listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
