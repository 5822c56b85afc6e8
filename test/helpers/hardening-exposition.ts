/** A strict reader of the Prometheus text format 0.0.4, and promtool, to prove an exposition parses back. */
import { spawnSync } from 'node:child_process';

export type ParsedSample = { name: string; labels: Record<string, string>; value: number };
export type ParsedExposition = {
  samples: ParsedSample[];
  types: Map<string, string>;
  /** `name{labels}` → value, for lookups. */
  byKey: Map<string, number>;
};

const metricName = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const labelName = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const types = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export function seriesKey(name: string, labels: Record<string, string>): string {
  const inner = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${JSON.stringify(labels[k])}`)
    .join(',');
  return `${name}{${inner}}`;
}

function familyOf(name: string, known: Map<string, string>): string | undefined {
  if (known.has(name)) return name;
  for (const suffix of ['_bucket', '_sum', '_count']) {
    const base = name.endsWith(suffix) ? name.slice(0, -suffix.length) : undefined;
    if (base !== undefined && (known.get(base) === 'histogram' || known.get(base) === 'summary')) return base;
  }
  return undefined;
}

/** Reads `{a="x",b="y"}` from `text` at `start` (the `{`); returns the labels and the index after `}`. */
function readLabels(text: string, start: number, line: string): [Record<string, string>, number] {
  const labels: Record<string, string> = {};
  let i = start + 1;
  const fail = (why: string): never => {
    throw new Error(`${why} in line: ${line.slice(0, 200)}`);
  };
  while (text[i] !== '}') {
    const eq = text.indexOf('=', i);
    if (eq < 0) fail('label without "="');
    const name = text.slice(i, eq);
    if (!labelName.test(name)) fail(`bad label name ${JSON.stringify(name)}`);
    if (name in labels) fail(`duplicate label ${name}`);
    if (text[eq + 1] !== '"') fail('label value not quoted');
    let value = '';
    let j = eq + 2;
    for (;;) {
      const c = text[j];
      if (c === undefined) return fail('unterminated label value');
      if (c === '"') break;
      if (c === '\\') {
        const next = text[j + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else fail(`bad escape \\${next ?? ''}`);
        j += 2;
        continue;
      }
      value += c;
      j += 1;
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i += 1;
    else if (text[i] !== '}') fail('expected "," or "}" after a label');
  }
  return [labels, i + 1];
}

function readValue(text: string, line: string): number {
  // As Go's strconv.ParseFloat, which Prometheus uses: case-insensitive (prom-client prints "Nan").
  if (/^\+?inf(inity)?$/i.test(text)) return Infinity;
  if (/^-inf(inity)?$/i.test(text)) return -Infinity;
  if (/^nan$/i.test(text)) return NaN;
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) throw new Error(`bad value in line: ${line}`);
  return Number(text);
}

/** Throws on anything a strict reader would reject: bad names, escapes, values, duplicates, untyped series. */
export function parseExposition(text: string): ParsedExposition {
  if (loneSurrogate.test(text)) throw new Error('exposition holds a lone surrogate (not valid UTF-8)');
  if (text !== '' && !text.endsWith('\n')) throw new Error('exposition does not end with a newline');
  const samples: ParsedSample[] = [];
  const typeOf = new Map<string, string>();
  const byKey = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '') continue;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) continue; // a plain comment
      const [, kind, name = '', rest = ''] = m;
      if (!metricName.test(name)) throw new Error(`bad metric name in: ${line}`);
      if (kind === 'TYPE') {
        if (!types.has(rest)) throw new Error(`bad type in: ${line}`);
        if (typeOf.has(name)) throw new Error(`second TYPE for ${name}`);
        typeOf.set(name, rest);
      } else if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) {
        throw new Error(`bad escape in HELP: ${line}`);
      }
      continue;
    }
    const nameEnd = line.search(/[{ ]/);
    if (nameEnd <= 0) throw new Error(`bad sample line: ${line.slice(0, 200)}`);
    const name = line.slice(0, nameEnd);
    if (!metricName.test(name)) throw new Error(`bad metric name ${JSON.stringify(name)}`);
    let labels: Record<string, string> = {};
    let rest = nameEnd;
    if (line[nameEnd] === '{') [labels, rest] = readLabels(line, nameEnd, line);
    if (line[rest] !== ' ') throw new Error(`expected a space before the value: ${line.slice(0, 200)}`);
    const fields = line.slice(rest + 1).split(' ');
    if (fields.length > 2 || fields.length === 0) throw new Error(`bad value part: ${line.slice(0, 200)}`);
    const value = readValue(fields[0] ?? '', line);
    if (fields[1] !== undefined && !/^-?\d+$/.test(fields[1])) throw new Error(`bad timestamp: ${line}`);
    if (familyOf(name, typeOf) === undefined) throw new Error(`sample before its TYPE: ${name}`);
    const key = seriesKey(name, labels);
    if (byKey.has(key)) throw new Error(`duplicate series ${key.slice(0, 200)}`);
    byKey.set(key, value);
    samples.push({ name, labels, value });
  }
  return { samples, types: typeOf, byKey };
}

/** The value of one series, or undefined. */
export function valueOf(
  parsed: ParsedExposition,
  name: string,
  labels: Record<string, string>,
): number | undefined {
  return parsed.byKey.get(seriesKey(name, labels));
}

/** Sum of a metric's samples whose labels include `match`. */
export function sumOf(parsed: ParsedExposition, name: string, match: Record<string, string>): number {
  return parsed.samples
    .filter((s) => s.name === name && Object.entries(match).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}

export function promtoolCheck(exposition: string): { status: number | null; output: string } {
  const run = spawnSync('promtool', ['check', 'metrics'], { input: exposition, encoding: 'utf8' });
  if (run.error) throw new Error(`promtool is required (Debian package "prometheus"): ${run.error.message}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}
