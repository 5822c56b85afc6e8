/**
 * The stitched gzip body: independently compressed segments must decompress, with any standard
 * gzip reader, to exactly their concatenation, with a correct CRC-32 and length in the trailer.
 */
import fc from 'fast-check';
import { spawnSync } from 'node:child_process';
import { constants, crc32, deflateRawSync, gunzipSync, inflateRawSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  compressParts,
  compressSegment,
  crc32Combine,
  gzipSegments,
  zlibStateFor,
} from '../src/metrics/gzip-segments.js';

describe('gzipSegments', () => {
  it('decompresses to the concatenation of any segments, in order', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 2000 }), { maxLength: 12 }), (texts) => {
        const body = gzipSegments(texts.map(compressSegment));
        expect(gunzipSync(body).toString('utf8')).toBe(texts.join(''));
      }),
      { numRuns: 300 },
    );
  });

  it('keeps the trailer right for large, repetitive segments and empty ones', () => {
    const line = (i: number) => `obshell_up{target="bench-${i}"} 1\n`;
    const big = Array.from({ length: 20_000 }, (_, i) => line(i)).join('');
    const texts = [big, '', '# EOF\n', big.slice(0, 70_001), ''];
    const body = gzipSegments(texts.map(compressSegment));
    expect(gunzipSync(body).toString('utf8')).toBe(texts.join(''));
    expect(body.readUInt32LE(body.length - 8)).toBe(crc32(texts.join('')));
    expect(body.length).toBeLessThan(Buffer.byteLength(texts.join('')) / 10);
  });

  it('compresses a segment smaller than zlib’s window as tightly as with the whole window', () => {
    const line = (i: number) => `obshell_task_state{target="t-${i}",state="${i % 5}"} ${i % 2}\n`;
    for (const lines of [1, 3, 10, 40, 200, 800, 3000]) {
      const text = Array.from({ length: lines }, (_, i) => line(i)).join('');
      const bytes = Buffer.from(text);
      const whole = deflateRawSync(bytes, { level: 6, finishFlush: constants.Z_SYNC_FLUSH });
      const segment = compressSegment(text);
      expect(segment.deflated.length, `${bytes.length} bytes`).toBeLessThanOrEqual(whole.length + 4);
      // The window covers the whole input (and zlib's lookahead), or is zlib's largest.
      expect(2 ** zlibStateFor(bytes.length).windowBits).toBeGreaterThanOrEqual(
        Math.min(bytes.length + 262, 2 ** 15),
      );
      const inflated = inflateRawSync(segment.deflated, { finishFlush: constants.Z_SYNC_FLUSH });
      expect(inflated.toString('utf8')).toBe(text);
    }
    expect(zlibStateFor(0)).toEqual({ windowBits: 9, memLevel: 2 });
    expect(zlibStateFor(300)).toEqual({ windowBits: 10, memLevel: 3 });
    expect(zlibStateFor(40_000)).toEqual({ windowBits: 15, memLevel: 8 });
  });

  it('is read by the gzip tool too (another implementation than Node’s zlib)', () => {
    const texts = ['# HELP a b\n# TYPE a gauge\n', 'a{x="1"} 1\n', 'a{x="2"} 2\n'.repeat(500)];
    const out = spawnSync('gzip', ['-dc'], { input: gzipSegments(texts.map(compressSegment)) });
    expect(out.status).toBe(0);
    expect(out.stdout.toString('utf8')).toBe(texts.join(''));
  });

  it('keeps each segment on memory of its own size, not on zlib’s 16 KB output chunk', () => {
    const small = compressSegment('obshell_up{target="a"} 1\n'.repeat(20));
    const large = compressSegment(Array.from({ length: 5000 }, (_, i) => `a{i="${i}"} ${i}\n`).join(''));
    for (const { deflated } of [small, large]) {
      expect(deflated.buffer.byteLength).toBe(deflated.byteLength);
      expect(deflated.byteOffset).toBe(0);
    }
    expect(small.deflated.byteLength).toBeLessThan(200);
    expect(gunzipSync(gzipSegments([small, large])).toString('utf8')).toMatch(
      /^obshell_up.*a\{i="4999"\} 4999\n$/s,
    );
  });

  it('compresses parts written one by one exactly as their joined text', () => {
    fc.assert(
      fc.property(fc.array(fc.string({ unit: 'grapheme', maxLength: 3000 }), { maxLength: 40 }), (parts) => {
        const joined = compressSegment(parts.join(''));
        const written = compressParts(parts);
        expect(written.crc).toBe(joined.crc);
        expect(written.length).toBe(joined.length);
        expect(written.deflated.equals(joined.deflated)).toBe(true);
      }),
      { numRuns: 200 },
    );
  });

  it('keeps earlier segments intact while its buffer is reused, grown past its start and replaced', () => {
    const line = (i: number) => `obshell_node_duration_seconds_bucket{node="nœud ${i} ✓"} ${i}\n`;
    // 64 KiB to start, several MB (replaced after use), then small again: every path of the buffer.
    const sizes = [10, 3_000, 120_000, 10];
    const texts = sizes.map((n, k) => Array.from({ length: n }, (_, i) => line(k * 1_000_000 + i)));
    const segments = texts.map((lines) => compressParts(lines));
    expect(gunzipSync(gzipSegments(segments)).toString('utf8')).toBe(texts.flat().join(''));
    for (const [k, segment] of segments.entries()) {
      expect(segment.length).toBe(Buffer.byteLength(texts[k]!.join('')));
    }
  });

  it('combines CRCs as zlib does', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.uint8Array({ maxLength: 3000 }), (a, b) => {
        const whole = crc32(Buffer.concat([a, b]));
        expect(crc32Combine(crc32(a), crc32(b), b.length)).toBe(whole);
      }),
      { numRuns: 300 },
    );
  });
});
