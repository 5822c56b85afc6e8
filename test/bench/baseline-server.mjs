/** The baseline: a bare node:http server answering the same bytes from memory, the serving limit for Node. */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:http';

const [file, port] = process.argv.slice(2);
const body = readFileSync(file);
const headers = { 'Content-Type': 'text/plain; version=0.0.4; charset=utf-8', 'Content-Length': body.length };
createServer((req, res) => {
  res.writeHead(200, headers);
  res.end(body);
}).listen(Number(port), '127.0.0.1', () => process.stdout.write('listening\n'));
process.on('SIGTERM', () => process.exit(0));
