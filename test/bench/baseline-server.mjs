/**
 * The baseline: a bare node:http server answering the same bytes from memory, the serving limit for
 * Node. Like the exporter, it holds the body gzipped once (level 1) for clients that accept gzip.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { gzipSync } from 'node:zlib';

const [file, port] = process.argv.slice(2);
const body = readFileSync(file);
const zipped = gzipSync(body, { level: 1 });
const type = 'text/plain; version=0.0.4; charset=utf-8';
const headers = { 'Content-Type': type, 'Content-Length': body.length, Vary: 'Accept-Encoding' };
const gzipHeaders = { ...headers, 'Content-Length': zipped.length, 'Content-Encoding': 'gzip' };
createServer((req, res) => {
  const gzip = /\bgzip\b/i.test(req.headers['accept-encoding'] ?? '');
  res.writeHead(200, gzip ? gzipHeaders : headers);
  res.end(gzip ? zipped : body);
}).listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
