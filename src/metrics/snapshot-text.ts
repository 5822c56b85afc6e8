/** Snapshot gauges as text: each target's series rendered once, concatenated per family. */
import { catalogue, snapshotGauges } from './catalogue.js';
import type { Sample, SeriesSet } from './sample.js';

export function createSnapshotRenderer(series: () => Iterable<SeriesSet>) {
  const specs = snapshotGauges.map((key) => ({ key, spec: catalogue[key] }));
  const headers = specs.map(
    ({ spec }) => `# HELP ${spec.name} ${escapeHelp(spec.help)}\n# TYPE ${spec.name} gauge`,
  );
  const chunks = new WeakMap<SeriesSet, string[]>();
  let sets: SeriesSet[] = [];
  let perTarget: string[][] = [];

  const chunksOf = (set: SeriesSet): string[] => {
    let rendered = chunks.get(set);
    if (!rendered) {
      rendered = specs.map(({ key, spec }) => renderSamples(spec.name, set[key] ?? []));
      chunks.set(set, rendered);
    }
    return rendered;
  };

  return {
    prerender: (set: SeriesSet): void => {
      chunksOf(set);
    },
    /** Re-reads the targets' series; true when any target's SeriesSet was replaced. */
    refresh(): boolean {
      const next = [...series()];
      if (next.length === sets.length && next.every((set, i) => set === sets[i])) return false;
      sets = next;
      perTarget = sets.map(chunksOf);
      return true;
    },
    /** Each family's header and non-empty target chunks, to be joined with newlines. */
    families: (): string[][] =>
      headers.map((header, f) => {
        const parts = [header];
        for (const target of perTarget) {
          const chunk = target[f];
          if (chunk) parts.push(chunk);
        }
        return parts;
      }),
  };
}

/** `pieces.join('')` as UTF-8 bytes, written into one buffer of the exact size. */
export function concatUtf8(pieces: readonly string[]): Buffer {
  let size = 0;
  for (const piece of pieces) size += Buffer.byteLength(piece, 'utf8');
  const out = Buffer.allocUnsafe(size);
  let offset = 0;
  for (const piece of pieces) offset += out.write(piece, offset, 'utf8');
  return out;
}

/** Sample lines exactly as prom-client writes gauges: labels in insertion order, no timestamp. */
function renderSamples(name: string, samples: readonly Sample[]): string {
  const lines: string[] = [];
  for (const { labels, value } of samples) {
    const pairs: string[] = [];
    for (const [label, text] of Object.entries(labels)) pairs.push(`${label}="${escapeLabelValue(text)}"`);
    lines.push(`${name}${pairs.length ? `{${pairs.join(',')}}` : ''} ${formatValue(value)}`);
  }
  return lines.join('\n');
}

function formatValue(value: number): string {
  if (Number.isNaN(value)) return 'Nan'; // sic: prom-client's spelling
  if (!Number.isFinite(value)) return value < 0 ? '-Inf' : '+Inf';
  return `${value}`;
}

const needsEscape = /[\\\n"]/;
function escapeLabelValue(value: string): string {
  if (!needsEscape.test(value)) return value;
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function escapeHelp(help: string): string {
  return help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
