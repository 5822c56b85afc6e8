/**
 * The agents' client TLS files, checked at load as the TLS client will use them: PEM that parses,
 * an unencrypted key, a key that matches its certificate. Reasons name no file content.
 */
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { createSecureContext } from 'node:tls';
import { fail, quote } from './problems.js';
import type { ConfigIo } from './types.js';
import type { FileRule } from './values.js';
import { prefixReason, readCheckedFile } from './values.js';

const certificateBlock = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;
const privateKeyBegin = /^-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----\r?$/m;
// PKCS#8 (`ENCRYPTED PRIVATE KEY`) or the legacy OpenSSL header; got is given no passphrase.
const encryptedKey = /^-----BEGIN ENCRYPTED PRIVATE KEY-----\r?$|^Proc-Type: 4,ENCRYPTED\r?$/m;

function parseCertificate(block: string): X509Certificate | undefined {
  try {
    return new X509Certificate(block);
  } catch {
    return undefined;
  }
}

/** A CA bundle or a certificate chain: at least one PEM certificate, every one of them valid. */
export function checkCertificates(pem: string): void {
  const blocks = pem.match(certificateBlock) ?? [];
  if (blocks.length === 0) fail('has no PEM certificate');
  const bad = blocks.findIndex((block) => parseCertificate(block) === undefined);
  if (bad >= 0) fail(`has an invalid PEM certificate (the ${ordinal(bad + 1)})`);
}

function ordinal(n: number): string {
  return n === 1 ? '1st' : n === 2 ? '2nd' : n === 3 ? '3rd' : `${n}th`;
}

function parsePrivateKey(pem: string): KeyObject {
  if (!privateKeyBegin.test(pem)) fail('has no PEM private key');
  if (encryptedKey.test(pem)) fail('holds an encrypted private key (a passphrase is not supported)');
  try {
    return createPrivateKey(pem);
  } catch {
    return fail('has an invalid PEM private key');
  }
}

/** Both PEMs already checked on their own; `certificate` says where the certificate comes from. */
function checkKeyPair(certPem: string, keyPem: string, certificate: string): void {
  const cert = parseCertificate(certPem);
  if (cert !== undefined && !cert.checkPrivateKey(parsePrivateKey(keyPem))) {
    fail(`does not match ${certificate}`);
  }
  try {
    createSecureContext({ cert: certPem, key: keyPem });
  } catch (error) {
    // OpenSSL's reason (e.g. "ee key too small") names no key material.
    fail(`cannot be used with ${certificate}: ${error instanceof Error ? error.message : 'unknown reason'}`);
  }
}

export const certificateFileRule: FileRule = { check: checkCertificates };
export const privateKeyFileRule: FileRule = {
  check: (pem) => {
    parsePrivateKey(pem);
  },
};

/** For two files that each passed their rule: `"<key>" does not match the certificate in <certName> "<cert>"`. */
export function checkKeyPairFiles(
  io: ConfigIo,
  files: { cert: string; key: string },
  certName: string,
): void {
  const certPem = readCheckedFile(io, files.cert);
  const keyPem = readCheckedFile(io, files.key);
  const certificate = `the certificate in ${certName} ${quote(files.cert)}`;
  prefixReason(quote(files.key), () => {
    checkKeyPair(certPem, keyPem, certificate);
  });
}
