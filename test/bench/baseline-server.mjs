/**
 * The baseline: a bare node:http server answering the same bytes from memory, the serving limit for
 * Node. It serves the exporter's own gzip bytes (same size, same compression) to clients that
 * accept gzip, and the identity bytes to the others. Like the exporter it holds one
 * process.nextTick entry (src/tick-shape.ts, built by the bench), so it stays at its best for the whole run: unheld, a
 * few idle full GCs (while the other servers run) could make it ~15 % dearer per request midway.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { pinTickObjectShape } from '../../dist/src/tick-shape.js';

const [file, gzipFile, port] = process.argv.slice(2);
const body = readFileSync(file);
const zipped = readFileSync(gzipFile);
const type = 'text/plain; version=0.0.4; charset=utf-8';
const headers = { 'Content-Type': type, 'Content-Length': body.length, Vary: 'Accept-Encoding' };
const gzipHeaders = { ...headers, 'Content-Length': zipped.length, 'Content-Encoding': 'gzip' };
createServer((req, res) => {
  const gzip = /\bgzip\b/i.test(req.headers['accept-encoding'] ?? '');
  res.writeHead(200, gzip ? gzipHeaders : headers);
  res.end(gzip ? zipped : body);
}).listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
await pinTickObjectShape();
