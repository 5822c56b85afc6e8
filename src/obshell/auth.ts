/**
 * obshell auth v2 (contract §2.2), pure: the X-OCS-Header / X-OCS-Agent-Header value is the
 * JSON {Auth, Ts, Uri, Keys} encrypted with the agent's RSA public key, PKCS#1 v1.5, in chunks
 * of k-11 bytes, concatenated and base64-encoded.
 */
import { constants, createPublicKey, publicEncrypt, type KeyObject } from 'node:crypto';

export const rootHeaderName = 'x-ocs-header';
export const agentHeaderName = 'x-ocs-agent-header';

/** Key sizes an agent may hand out: obshell's are 512 or 1024 bits; a PKCS#1 block needs 11 bytes of padding. */
export const minKeyBits = 512;
export const maxKeyBits = 8192;

/**
 * Reads `public_key` of /api/v1/secret: base64 DER of a PKCS#1 RSAPublicKey, no PEM armour. Throws
 * when it is none, or when its size is outside minKeyBits to maxKeyBits (KeySizeError).
 */
export function parsePublicKey(base64Der: string): KeyObject {
  const key = createPublicKey({ key: Buffer.from(base64Der, 'base64'), format: 'der', type: 'pkcs1' });
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  // A tiny modulus leaves no room for data in a block: the header could never be built.
  if (bits < minKeyBits || bits > maxKeyBits) throw new KeySizeError(bits);
  return key;
}

export class KeySizeError extends Error {
  constructor(readonly bits: number) {
    super(`public_key is an RSA key of ${bits} bits, outside ${minKeyBits}–${maxKeyBits}`);
  }
}

export type AuthHeaderInput = {
  publicKey: KeyObject;
  /** root@sys password (X-OCS-Header) or agent password (X-OCS-Agent-Header); "" when none. */
  password: string;
  /** The exact request target sent on the wire: path plus `?query`. */
  uri: string;
  /** Expiry in Unix seconds; obshell rejects the header once its clock is past it. */
  expiresAt: number;
};

export function buildAuthHeader({ publicKey, password, uri, expiresAt }: AuthHeaderInput): string {
  // Ts must be a JSON *string*: a number makes obshell's decryption fail (401).
  const plain = Buffer.from(
    JSON.stringify({ Auth: password, Ts: String(Math.floor(expiresAt)), Uri: uri, Keys: null }),
    'utf8',
  );
  const modulusBytes = (publicKey.asymmetricKeyDetails?.modulusLength ?? 512) / 8;
  const chunk = modulusBytes - 11;
  if (!(chunk > 0)) throw new KeySizeError(modulusBytes * 8); // parsePublicKey refuses such keys first
  const blocks: Buffer[] = [];
  for (let offset = 0; offset < plain.length; offset += chunk) {
    blocks.push(
      publicEncrypt(
        { key: publicKey, padding: constants.RSA_PKCS1_PADDING },
        plain.subarray(offset, offset + chunk),
      ),
    );
  }
  return Buffer.concat(blocks).toString('base64');
}

/** A signed header and what it was signed for. */
export type SignedHeader = {
  readonly value: string;
  readonly password: string;
  readonly uri: string;
  /** Unix seconds: the header's Ts. */
  readonly expiresAt: number;
};

export type HeaderRequest = {
  publicKey: KeyObject;
  password: string;
  uri: string;
  nowSeconds: number;
  /** Clock-skew margin every header sent keeps: it is valid at least this long after sending. */
  ttlSeconds: number;
  /** How much longer than ttl a header is signed for, so that it serves the polls of that span. */
  reuseSeconds: number;
};

/**
 * The last header again while it was signed for this password and URI and has at least
 * `ttlSeconds` left, else a new one valid for `ttlSeconds + reuseSeconds`. obshell checks only that
 * Ts has not passed (no nonce, no lower bound), so a header may serve several requests; each still
 * leaves with the full ttl of margin. Perf: RSA encryption is ~50 µs on Node 24's OpenSSL, an
 * eighth of a poll's CPU; at a 15 s interval one signature now serves three polls.
 */
export function reuseOrSign(last: SignedHeader | undefined, request: HeaderRequest): SignedHeader {
  const { publicKey, password, uri, nowSeconds, ttlSeconds, reuseSeconds } = request;
  const now = Math.floor(nowSeconds);
  if (
    last?.password === password &&
    last.uri === uri &&
    last.expiresAt - now >= ttlSeconds &&
    last.expiresAt - now <= ttlSeconds + reuseSeconds
  ) {
    return last;
  }
  const expiresAt = now + ttlSeconds + reuseSeconds;
  return { value: buildAuthHeader({ publicKey, password, uri, expiresAt }), password, uri, expiresAt };
}
