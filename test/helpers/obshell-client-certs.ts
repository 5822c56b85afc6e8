/** Throw-away CA, server and client certificates made with the openssl CLI, for the TLS tests. */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeCa, makeLeaf } from './certs.js';

export type TestCerts = {
  dir: string;
  caFile: string;
  otherCaFile: string;
  serverCert: Buffer;
  serverKey: Buffer;
  ca: Buffer;
  clientCertFile: string;
  clientKeyFile: string;
  cleanup(): void;
};

export function makeTestCerts(): TestCerts {
  const dir = mkdtempSync(join(tmpdir(), 'obshell-client-certs-'));
  makeCa(dir, 'ca');
  makeCa(dir, 'other');
  makeLeaf(dir, 'server', 'ca', 'IP:127.0.0.1,DNS:obshell.test', 'serverAuth');
  makeLeaf(dir, 'client', 'ca', 'DNS:client.test', 'clientAuth');
  const file = (name: string) => join(dir, name);
  return {
    dir,
    caFile: file('ca.crt'),
    otherCaFile: file('other.crt'),
    ca: readFileSync(file('ca.crt')),
    serverCert: readFileSync(file('server.crt')),
    serverKey: readFileSync(file('server.key')),
    clientCertFile: file('client.crt'),
    clientKeyFile: file('client.key'),
    cleanup: () => {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
