/**
 * Server side of obshell auth v2 (contract §1.2, §2.2): RSA key pair, block-by-block header
 * decryption, and the checks of VerifyObRouters / VerifyAuth in the order obshell runs them.
 */
import { constants, generateKeyPairSync, privateDecrypt, type KeyObject } from 'node:crypto';
import { obError, type ObError } from './envelope.js';

export type KeyPair = { privateKey: KeyObject; publicKeyBase64: string; modulusBytes: number };

export function generateKeys(bits: 512 | 1024): KeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: bits });
  const der = publicKey.export({ format: 'der', type: 'pkcs1' });
  return { privateKey, publicKeyBase64: der.toString('base64'), modulusBytes: bits / 8 };
}

/** The fields of secure.HttpHeader this simulator looks at. */
export type HttpHeader = { auth: string; ts: string; uri: string; sessionId: string };

/** Go's StdEncoding: standard alphabet, padding required; CR and LF are skipped. */
function strictBase64(text: string): Buffer | undefined {
  const clean = text.replace(/[\r\n]/g, '');
  if (clean.length === 0 || clean.length % 4 !== 0) return undefined;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean)) return undefined;
  return Buffer.from(clean, 'base64');
}

/** PKCS#1 v1.5 type 2: 00 02, at least 8 non-zero padding bytes, 00, message. */
function stripPkcs1Type2(block: Buffer): Buffer | undefined {
  if (block[0] !== 0 || block[1] !== 2) return undefined;
  const zero = block.indexOf(0, 2);
  return zero < 10 ? undefined : block.subarray(zero + 1);
}

/** Node refuses PKCS#1 v1.5 in privateDecrypt (CVE-2023-46809), so decrypt raw and unpad here. */
export function rsaDecryptBlocks(cipher: Buffer, keys: KeyPair): Buffer | undefined {
  const k = keys.modulusBytes;
  if (cipher.length === 0 || cipher.length % k !== 0) return undefined;
  const parts: Buffer[] = [];
  for (let offset = 0; offset < cipher.length; offset += k) {
    let raw: Buffer;
    try {
      const opts = { key: keys.privateKey, padding: constants.RSA_NO_PADDING };
      raw = privateDecrypt(opts, cipher.subarray(offset, offset + k));
    } catch {
      return undefined;
    }
    const plain = stripPkcs1Type2(raw);
    if (!plain) return undefined;
    parts.push(plain);
  }
  return Buffer.concat(parts);
}

/** Go's EqualFold also folds the long s and the Kelvin sign onto ASCII letters. */
const foldKey = (key: string): string =>
  key
    .replace(/\u017f/g, 's')
    .replace(/\u212a/g, 'k')
    .toLowerCase();

const fieldOf: Record<string, keyof HttpHeader> = {
  auth: 'auth',
  ts: 'ts',
  uri: 'uri',
  session_id: 'sessionId',
};

/** encoding/json into a struct: case-insensitive keys, last one wins, null leaves "", wrong types fail. */
export function readHeaderJson(text: string): HttpHeader | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return `invalid JSON: ${(e as Error).message}`;
  }
  const header: HttpHeader = { auth: '', ts: '', uri: '', sessionId: '' };
  if (parsed === null) return header;
  if (typeof parsed !== 'object' || Array.isArray(parsed)) return 'cannot unmarshal into HttpHeader';
  for (const [key, value] of Object.entries(parsed as Record<string, unknown>)) {
    const folded = foldKey(key);
    const field = fieldOf[folded];
    if (value === null) continue;
    if (folded === 'keys') {
      if (typeof value !== 'string' || (value !== '' && !strictBase64(value))) return 'invalid Keys';
    } else if (field !== undefined) {
      if (typeof value !== 'string') return `json: cannot unmarshal ${typeof value} into field ${key}`;
      header[field] = value;
    }
  }
  return header;
}

export function decryptHeader(value: string, keys: KeyPair): HttpHeader | ObError {
  const failed = (why: string) =>
    obError('Security.Authentication.Header.DecryptFailed', `Decrypt http header failed: ${why}`);
  const cipher = strictBase64(value);
  if (!cipher) return failed('illegal base64 data');
  const plain = rsaDecryptBlocks(cipher, keys);
  if (!plain) return failed('crypto/rsa: decryption error');
  const header = readHeaderJson(plain.toString('utf8'));
  return typeof header === 'string' ? failed(header) : header;
}
