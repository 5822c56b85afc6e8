/** `obshell-exporter simulate`: command-line flags of the built-in obshell simulator. */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { UsageError } from '../errors.js';
import { faultModes, identities, scenarioNames, type SimulatorOptions } from './types.js';

export const simulateUsage = `Usage: obshell-exporter simulate [options]

Runs a built-in obshell agent look-alike that serves /api/v1/info, /api/v1/status,
/api/v1/secret and /api/v1/task/dag/maintain/ob with obshell's authentication.

Options:
  --listen HOST:PORT      address to listen on (default 127.0.0.1:2886)
  --socket PATH           listen on a unix socket instead (no auth, no TLS, like obshell.sock)
  --scenario NAME         story to play (default lifecycle):
                          ${scenarioNames.join(', ')}
  --speed X               story seconds per real second (default 1)
  --password P            root@sys password (default "", or env OBSHELL_PASSWORD)
  --agent-password P      set an agent password (or env OBSHELL_AGENT_PASSWORD)
  --key-bits 512|1024     RSA key size (default 1024; obshell before 2026-03 used 512)
  --identity NAME         agent identity (default "CLUSTER AGENT"; SINGLE needs no password)
  --fault MODE            answer the maintain route wrongly:
                          ${faultModes.join(', ')}
  --tls-cert FILE         serve https with this certificate (with --tls-key)
  --tls-key FILE          private key of --tls-cert
  --tls-ca FILE           CA for client certificates
  --require-client-cert   mTLS: reject clients without a certificate signed by --tls-ca
  -h, --help              show this help
`;

export const isHelp = (argv: readonly string[]): boolean => argv.includes('--help') || argv.includes('-h');

const valueFlags = [
  '--listen',
  '--socket',
  '--scenario',
  '--speed',
  '--password',
  '--agent-password',
  '--key-bits',
  '--identity',
  '--fault',
  '--tls-cert',
  '--tls-key',
  '--tls-ca',
] as const;
type ValueFlag = (typeof valueFlags)[number];
type Flags = Partial<Record<ValueFlag, string>> & { requireClientCert?: boolean };

const isValueFlag = (name: string): name is ValueFlag => (valueFlags as readonly string[]).includes(name);

/** `-pS3cr3t` is a habit of database clients: of a one-dash option only its letter is shown. */
const shown = (name: string): string =>
  name.length > 2 && !name.startsWith('--') ? `${name.slice(0, 2)} (the rest not shown)` : name;

/** `--flag value` and `--flag=value`; a repeated flag keeps its last value. */
function readFlags(argv: readonly string[]): Flags {
  const flags: Flags = {};
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i] ?? '';
    const eq = arg.indexOf('=');
    const name = arg.startsWith('--') && eq > 0 ? arg.slice(0, eq) : arg;
    if (name === '--require-client-cert' && eq < 0) {
      flags.requireClientCert = true;
      continue;
    }
    if (!isValueFlag(name)) {
      throw new UsageError(
        arg.startsWith('-') ? `unknown option ${shown(name)}` : `unexpected argument ${JSON.stringify(arg)}`,
      );
    }
    const value = eq > 0 ? arg.slice(eq + 1) : argv[(i += 1)];
    if (value === undefined) throw new UsageError(`${name} needs a value`);
    flags[name] = value;
  }
  return flags;
}

function parseListen(text: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d{1,5})$/.exec(text);
  const port = Number(m?.[3]);
  if (!m || port > 65535)
    throw new UsageError(`--listen must be HOST:PORT (e.g. 127.0.0.1:2886), got ${JSON.stringify(text)}`);
  const host = m[1] ?? m[2] ?? '';
  return { host: host === '' ? '127.0.0.1' : host, port };
}

function oneOf<T extends string>(flag: string, value: string, allowed: readonly T[]): T {
  const found = allowed.find((a) => a === value);
  if (found === undefined) {
    throw new UsageError(`${flag} must be one of ${allowed.join(', ')}; got ${JSON.stringify(value)}`);
  }
  return found;
}

function parseSpeed(text: string): number {
  const speed = Number(text);
  if (text.trim() === '' || !Number.isFinite(speed) || speed <= 0) {
    throw new UsageError(`--speed must be a positive number, got ${JSON.stringify(text)}`);
  }
  return speed;
}

function readPem(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new UsageError(`${flag}: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
  }
}

function parseTls(f: Flags): SimulatorOptions['tls'] {
  const cert = f['--tls-cert'];
  const key = f['--tls-key'];
  if (cert === undefined && key === undefined) {
    if (f['--tls-ca'] !== undefined || f.requireClientCert)
      throw new UsageError('--tls-ca and --require-client-cert need --tls-cert and --tls-key');
    return undefined;
  }
  if (cert === undefined || key === undefined) throw new UsageError('--tls-cert and --tls-key go together');
  if (f.requireClientCert && f['--tls-ca'] === undefined)
    throw new UsageError('--require-client-cert needs --tls-ca');
  if (f['--socket'] !== undefined) {
    throw new UsageError("--tls-cert and --tls-key need --listen: obshell's unix socket is plain HTTP");
  }
  const tls = {
    cert: readPem('--tls-cert', cert),
    key: readPem('--tls-key', key),
    requireClientCert: f.requireClientCert ?? false,
  };
  const ca = f['--tls-ca'];
  const checked = ca === undefined ? tls : { ...tls, ca: readPem('--tls-ca', ca) };
  try {
    createSecureContext(checked);
  } catch (e) {
    // OpenSSL's reason (e.g. "PEM routines::no start line") quotes nothing from the files.
    throw new UsageError(`--tls-cert, --tls-key, --tls-ca: cannot use them: ${(e as Error).message}`);
  }
  return checked;
}

/** argv: the words after `simulate`. Throws UsageError naming the bad flag. */
export function parseSimulateArgs(argv: string[], env: NodeJS.ProcessEnv): SimulatorOptions {
  const f = readFlags(argv);
  if (f['--listen'] !== undefined && f['--socket'] !== undefined)
    throw new UsageError('--listen and --socket exclude each other');
  const options: SimulatorOptions =
    f['--socket'] !== undefined
      ? { socketPath: f['--socket'] }
      : parseListen(f['--listen'] ?? '127.0.0.1:2886');
  if (f['--scenario'] !== undefined) options.scenario = oneOf('--scenario', f['--scenario'], scenarioNames);
  if (f['--speed'] !== undefined) options.speed = parseSpeed(f['--speed']);
  const password = f['--password'] ?? env['OBSHELL_PASSWORD'];
  if (password !== undefined) options.password = password;
  const agentPassword = f['--agent-password'] ?? env['OBSHELL_AGENT_PASSWORD'];
  if (agentPassword !== undefined && agentPassword !== '') options.agentPassword = agentPassword;
  if (f['--key-bits'] !== undefined)
    options.keyBits = oneOf('--key-bits', f['--key-bits'], ['512', '1024']) === '512' ? 512 : 1024;
  if (f['--identity'] !== undefined) options.identity = oneOf('--identity', f['--identity'], identities);
  if (f['--fault'] !== undefined) options.fault = oneOf('--fault', f['--fault'], faultModes);
  const tls = parseTls(f);
  if (tls) options.tls = tls;
  return options;
}
