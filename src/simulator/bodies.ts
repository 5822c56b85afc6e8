/** Malformed and oversized answers for fault modes: what proxies and broken agents really send. */
import type { ServerResponse } from 'node:http';
import type { DagJson } from '../obshell/schema.js';

/** Go's encoding/json escapes these inside strings; outside strings they cannot occur. */
export function goJson(value: unknown): string {
  return JSON.stringify(value).replace(
    /[<>&\u2028\u2029]/g,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
  );
}

export function sendText(res: ServerResponse, status: number, body: string, type = 'application/json'): void {
  res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

export const html502 = `<html>
<head><title>502 Bad Gateway</title></head>
<body>
<center><h1>502 Bad Gateway</h1></center>
<hr><center>nginx/1.24.0</center>
</body>
</html>
`;

type Json = Record<string, unknown>;
const firstNode = (dag: Json): Json | undefined => (dag['nodes'] as Json[] | null | undefined)?.[0];
const firstSub = (dag: Json): Json | undefined =>
  (firstNode(dag)?.['sub_tasks'] as Json[] | null | undefined)?.[0];

export function wrongTypes(dag: DagJson): Json {
  const out: Json = { ...dag, stage: String(dag.stage), max_stage: String(dag.max_stage) };
  const sub = firstSub(out);
  if (sub) sub['execute_times'] = String(sub['execute_times']);
  return out;
}

export function missingFields(dag: DagJson): Json {
  const rest: Json = { ...dag };
  delete rest['state'];
  delete rest['id'];
  delete rest['start_time'];
  const node = firstNode(rest);
  if (node) delete node['name'];
  return rest;
}

function extras(prefix: string, count: number): Json {
  const kinds = [1, 'text', true, null, { nested: { deeper: [1, 2, 3] } }, [{ a: 'b' }], 1.5e300];
  return Object.fromEntries(
    Array.from({ length: count }, (_, i) => [`${prefix}_${i}`, kinds[i % kinds.length]]),
  );
}

/** Unknown fields at every level must not break a tolerant parser. */
export function extraFields(dag: DagJson): Json {
  const nodes = (dag.nodes ?? []).map((n) => ({
    ...n,
    ...extras('node_extra', 5),
    sub_tasks: (n.sub_tasks ?? []).map((s) => ({ ...s, ...extras('sub_task_extra', 5) })),
  }));
  return { ...dag, ...extras('dag_extra', 40), nodes };
}

/** The envelope text with `additional_data` nested `depth` objects deep (built as text: no recursion). */
export function deepNestingBody(envelope: Json, depth: number): string {
  const marker = '@@deep_nesting@@';
  const data = { ...(envelope['data'] as Json), additional_data: marker };
  const text = goJson({ ...envelope, data });
  return text.replace(`"${marker}"`, () => `${'{"a":'.repeat(depth)}{}${'}'.repeat(depth)}`);
}

function waitWritable(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done);
      res.off('close', done);
      resolve();
    };
    res.on('drain', done);
    res.on('close', done);
  });
}

/** 1 000 log lines of ~190 bytes, built once: the huge answer repeats them. */
const hugeLogChunk = Buffer.from(
  ',' +
    Array.from(
      { length: 1000 },
      (_, k) => `"INFO: line ${String(k).padStart(9, '0')} ${'x'.repeat(180)}"`,
    ).join(','),
);

/**
 * Streams a valid envelope whose first sub-task carries `bytes` of task_logs, with back-pressure.
 * It yields to the event loop after every chunk: the simulator often shares a process with the
 * exporter under test, and a 50 MB answer must not stall that process for tens of milliseconds.
 */
export async function streamHuge(res: ServerResponse, envelope: Json, bytes: number): Promise<void> {
  const marker = '@@huge@@';
  const data = envelope['data'] as DagJson;
  const nodes = (data.nodes ?? []).map((n, i) =>
    i === 0 ? { ...n, sub_tasks: (n.sub_tasks ?? []).map((s) => ({ ...s, task_logs: [marker] })) } : n,
  );
  const [prefix = '', suffix = ''] = goJson({ ...envelope, data: { ...data, nodes } }).split(`"${marker}"`);
  res.writeHead(200, { 'Content-Type': 'application/json' });
  res.write(prefix + '"INFO: first line"');
  for (let sent = 0; sent < bytes && !res.destroyed; sent += hugeLogChunk.length) {
    if (res.write(hugeLogChunk)) await new Promise<void>((resolve) => setImmediate(resolve));
    else await waitWritable(res);
  }
  if (!res.destroyed) res.end(suffix);
}
