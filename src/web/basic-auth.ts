/**
 * Basic auth against bcrypt hashes, as exporter-toolkit does it: user names compared in constant
 * time, a decoy hash for unknown users (no user enumeration by timing), one bcrypt at a time, and
 * successful checks cached by a SHA-256 of user, password and hash (bcrypt costs ~100 ms per call).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import type { authFailureReasons } from '../metrics/catalogue.js';

export type AuthFailure = (typeof authFailureReasons)[number];
export type AuthResult = 'ok' | AuthFailure;

// bcrypt (cost 10) of a random string nobody knows; only its cost matters.
const decoyHash = '$2b$10$vBBiFNnZ49dGKS564FXynOLDmxuKbRg3sKUWNHUN1le.d/xCQM9fy';
const cacheLimit = 100;

/** `Authorization: Basic base64(user:password)` → the pair, or undefined when absent or malformed. */
export function parseBasicAuth(header: string | undefined): { user: string; password: string } | undefined {
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header ?? '');
  if (!match?.[1]) return undefined;
  const text = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  if (colon < 0) return undefined;
  return { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

const sha256 = (...parts: string[]) => {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest();
};

/** Looks at every user so the time taken does not depend on where (or whether) the name matches. */
export function findUserHash(users: ReadonlyMap<string, string>, user: string): string | undefined {
  const wanted = sha256(user);
  let found: string | undefined;
  for (const [name, hash] of users) {
    if (timingSafeEqual(sha256(name), wanted) && found === undefined) found = hash;
  }
  return found;
}

export type BasicAuth = {
  check(users: ReadonlyMap<string, string>, header: string | undefined): Promise<AuthResult>;
};

export function createBasicAuth(): BasicAuth {
  const verified = new Map<string, true>();
  let queue: Promise<unknown> = Promise.resolve();
  // One bcrypt at a time: a flood of wrong passwords must not take every core.
  const compare = (password: string, hash: string): Promise<boolean> => {
    const next = queue.then(() => bcrypt.compare(password, hash));
    queue = next.catch(() => undefined);
    return next;
  };
  return {
    async check(users, header) {
      const credentials = parseBasicAuth(header);
      if (!credentials) return 'missing';
      const hash = findUserHash(users, credentials.user);
      const key = sha256(credentials.user, credentials.password, hash ?? decoyHash).toString('hex');
      if (hash !== undefined && verified.has(key)) return 'ok';
      const ok = await compare(credentials.password, hash ?? decoyHash).catch(() => false);
      if (hash === undefined) return 'unknown_user';
      if (!ok) return 'wrong_password';
      if (verified.size >= cacheLimit) verified.delete(verified.keys().next().value ?? '');
      verified.set(key, true);
      return 'ok';
    },
  };
}
