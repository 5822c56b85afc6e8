/**
 * A gzip body stitched from independently compressed segments, so a change recompresses only the
 * segments it touched. Each segment is raw deflate ended by a sync flush (byte-aligned, never the
 * final block) and holds no back-reference before its own start, so segments concatenate into one
 * valid deflate stream (RFC 1951); the gzip trailer's CRC-32 is combined from the segments' CRCs
 * (zlib's crc32_combine), so the uncompressed body is never materialised.
 */
import { Buffer } from 'node:buffer';
import { constants, crc32, deflateRawSync } from 'node:zlib';

export type Segment = {
  /** Raw deflate data ending with a sync flush. */
  readonly deflated: Buffer;
  /** CRC-32 of the uncompressed bytes. */
  readonly crc: number;
  /** Uncompressed length in bytes. */
  readonly length: number;
  /** crc32_combine's operator for this length: x^(8·length) mod the CRC polynomial. */
  readonly shift: number;
};

/**
 * zlib level 6 (its default): a segment is compressed once per change, and on this repetitive text
 * level 6 costs ~4 ms per MB against ~1 ms for level 1, for 10–15 % fewer bytes on every scrape.
 */
const level = 6;

export function compressSegment(text: string): Segment {
  return compressBytes(Buffer.from(text, 'utf8'));
}

/** Where compressParts writes a segment's bytes; reused, and replaced when a huge one grew it. */
let scratch = Buffer.allocUnsafeSlow(64 * 1024);
const keptScratchBytes = 4 * 1024 * 1024;
/** Text joined before it is written: far below the young generation. */
const pendingChars = 32 * 1024;

/**
 * Compresses the concatenation of `parts`, each written into a reused buffer as it comes, so only
 * one part is alive at a time. A segment of 64 targets is up to ~1.3 MB of text: built as one
 * string, it outlived V8's young generation (~1 MB in a memory-limited container) and was promoted,
 * ~20 MB of garbage in the first build at 1 000 targets, pages V8 then keeps.
 */
export function compressParts(parts: Iterable<string>): Segment {
  let at = 0;
  const write = (text: string): void => {
    const most = text.length * 3; // UTF-8 bytes per UTF-16 code unit, at most
    if (at + most > scratch.length) {
      const grown = Buffer.allocUnsafeSlow(Math.max(2 * scratch.length, at + most));
      scratch.copy(grown, 0, 0, at);
      scratch = grown;
    }
    at += scratch.write(text, at, 'utf8');
  };
  // Short parts (one-line families) are joined first: a write per part doubled a build's time.
  let pending = '';
  for (const part of parts) {
    pending += part;
    if (pending.length >= pendingChars) {
      write(pending);
      pending = '';
    }
  }
  write(pending);
  const segment = compressBytes(scratch.subarray(0, at));
  if (scratch.length > keptScratchBytes) scratch = Buffer.allocUnsafeSlow(64 * 1024);
  return segment;
}

/**
 * zlib's state sized to the input: a window just larger than the bytes (a match cannot reach
 * farther back than the input anyway; 262 is zlib's lookahead) and the hash table to match. Most
 * segments a poll changes in a small fleet are a few hundred bytes, and zlib's default state is
 * ~256 KB allocated and cleared per call: 23 against 34 µs for a 260-byte segment, the same bytes
 * out (measured). Segments over 32 KB get the defaults (15, 8).
 */
export function zlibStateFor(length: number): { windowBits: number; memLevel: number } {
  const windowBits = Math.min(15, Math.max(9, Math.ceil(Math.log2(length + 262))));
  return { windowBits, memLevel: windowBits - 7 };
}

/** `bytes` are only read: the deflated result is a copy (see ownBytes). */
function compressBytes(bytes: Buffer): Segment {
  const options = { level, finishFlush: constants.Z_SYNC_FLUSH, ...zlibStateFor(bytes.length) };
  return {
    deflated: ownBytes(deflateRawSync(bytes, options)),
    crc: crc32(bytes),
    length: bytes.length,
    shift: x2nmodp(bytes.length, 3),
  };
}

/**
 * `buffer` on memory of its own size. zlib's sync API returns a one-chunk result as a slice of its
 * 16 KB output chunk, so a kept segment of a few hundred bytes held all 16 KB: ~7 MB of the C heap
 * at 1 000 targets (415 segments, measured in a heap snapshot).
 */
function ownBytes(buffer: Buffer): Buffer {
  if (buffer.byteLength === buffer.buffer.byteLength) return buffer;
  const own = Buffer.from(new ArrayBuffer(buffer.byteLength));
  buffer.copy(own);
  return own;
}

/** gzip header: deflate, no flags, no mtime, OS unknown (RFC 1952). */
const header = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
/** An empty final fixed-Huffman block: ends the deflate stream. */
const finalBlock = Buffer.from([0x03, 0x00]);

/** One gzip member made of the segments in order. */
export function gzipSegments(segments: readonly Segment[]): Buffer {
  let crc = 0;
  let length = 0;
  const parts: Buffer[] = [header];
  for (const segment of segments) {
    if (segment.length === 0) continue;
    crc = (multmodp(segment.shift, crc) ^ segment.crc) >>> 0;
    length += segment.length;
    parts.push(segment.deflated);
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc, 0);
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  parts.push(finalBlock, trailer);
  return Buffer.concat(parts);
}

/** CRC-32 of `a` then `b` from their CRCs: zlib's crc32_combine (GF(2) polynomial arithmetic). */
export function crc32Combine(crcA: number, crcB: number, lengthB: number): number {
  return (multmodp(x2nmodp(lengthB, 3), crcA) ^ crcB) >>> 0;
}

/** The reflected CRC-32 polynomial. */
const polynomial = 0xedb88320;

/** a(x)·b(x) modulo the CRC polynomial, both reflected 32-bit polynomials. */
function multmodp(a: number, b: number): number {
  let m = 0x80000000;
  let product = 0;
  for (;;) {
    if ((a & m) !== 0) {
      product ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    m >>>= 1;
    b = b & 1 ? (b >>> 1) ^ polynomial : b >>> 1;
  }
  return product >>> 0;
}

/** x^(2^k) modulo the polynomial, for k = 0…31. */
const x2nTable = (() => {
  const table = new Array<number>(32);
  let p = 0x40000000; // x^1
  table[0] = p;
  for (let k = 1; k < 32; k++) table[k] = p = multmodp(p, p);
  return table;
})();

/** x^(n·2^k) modulo the polynomial. */
function x2nmodp(n: number, k: number): number {
  let p = 0x80000000; // x^0 == 1
  while (n > 0) {
    if (n % 2 === 1) p = multmodp(x2nTable[k & 31] as number, p);
    n = Math.floor(n / 2);
    k += 1;
  }
  return p;
}
