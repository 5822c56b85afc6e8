import { describe, expect, test } from 'vitest';
import { UsageError } from '../src/errors.js';
import { envName, flagSpecs, parseCommandLine, usage } from '../src/config/index.js';
import type { FlagName } from '../src/config/index.js';

function usageError(argv: string[], env: Record<string, string> = {}): string {
  try {
    parseCommandLine(argv, env);
  } catch (error) {
    expect(error).toBeInstanceOf(UsageError);
    return (error as Error).message;
  }
  throw new Error(`no usage error for ${argv.join(' ')}`);
}

describe('parseCommandLine rejects each bad flag with its exact message', () => {
  test.each([
    [['--bogus'], '--bogus: unknown flag'],
    [['-x'], '-x: unknown flag'],
    [['serve'], '"serve": unexpected argument'],
    [
      ['--log.level=debug', 'simulate'],
      '"simulate": a command, so it goes first ("obshell-exporter simulate [flags]")',
    ],
    [
      ['--obshell.password', 'S3cr3t-Zq9'],
      '--obshell.password: unknown flag\nthe argument after --obshell.password: unexpected (not shown: it may be a secret)',
    ],
    [['--obshell.password=S3cr3t-Zq9'], '--obshell.password: unknown flag'],
    // parseArgs reads `-pS3cr3t` as one-letter flags, one problem each: they spelled the password out.
    [['-pS3cr3t-Zq9'], 'argument 1: unknown short flags (not shown: it may hold a secret)'],
    [
      ['--log.level=info', '-uroot', '-pS3cr3t-Zq9'],
      'argument 2: unknown short flags (not shown: it may hold a secret)\nargument 3: unknown short flags (not shown: it may hold a secret)',
    ],
    [['--log.level'], '--log.level: missing value'],
    [
      ['--log.level', '--demo'],
      '--log.level: missing value (got "--demo"; write --log.level=--demo if you mean it)',
    ],
    [['--log.level=info', '--log.level=warn'], '--log.level: given more than once'],
    [['--log.level=verbose'], '--log.level: "verbose" is not one of debug, info, warn, error'],
    [['--log.format=text'], '--log.format: "text" is not one of json, pretty'],
    [['--obshell.timeout=10'], '--obshell.timeout: "10" has no unit (use ms, s, m, h or d, e.g. "10s")'],
    [
      ['--obshell.timeout=1.5s'],
      '--obshell.timeout: "1.5s" is not a duration (e.g. "500ms", "10s", "1h30m")',
    ],
    [['--obshell.timeout=0s'], '--obshell.timeout: "0s" must be greater than 0'],
    [['--obshell.timeout=30d'], '--obshell.timeout: "30d" is longer than the maximum, 24d20h31m23s647ms'],
    [
      ['--obshell.timeout=24d20h31m23s648ms'],
      '--obshell.timeout: "24d20h31m23s648ms" is longer than the maximum, 24d20h31m23s647ms',
    ],
    [['--obshell.timeout='], '--obshell.timeout: empty duration (e.g. "10s")'],
    [
      ['--targets.shard=0/99999999999999999999'],
      '--targets.shard: "0/99999999999999999999" has more than 10000 shards',
    ],
    [
      ['--web.telemetry-path=/m?x'],
      '--web.telemetry-path: "/m?x" holds "?", which a URL path cannot hold as is',
    ],
    [
      ['--web.telemetry-path=/a b'],
      '--web.telemetry-path: "/a b" holds " ", which a URL path cannot hold as is',
    ],
    [
      ['--web.telemetry-path=/m#x'],
      '--web.telemetry-path: "/m#x" holds "#", which a URL path cannot hold as is',
    ],
    [
      ['--web.telemetry-path=/mé'],
      '--web.telemetry-path: "/mé" holds "é", which a URL path cannot hold as is',
    ],
    [
      ['--config.auto-reload-interval=500ms'],
      '--config.auto-reload-interval: "500ms" is shorter than the minimum, 1s',
    ],
    [['--config.auto-reload-interval=0s'], '--config.auto-reload-interval: "0s" must be greater than 0'],
    [
      ['--config.auto-reload-interval=30'],
      '--config.auto-reload-interval: "30" has no unit (use ms, s, m, h or d, e.g. "10s")',
    ],
    [['--obshell.url=ftp://x'], '--obshell.url: "ftp://x" is not an http or https URL'],
    [['--obshell.url=10.0.0.1:2886'], '--obshell.url: "10.0.0.1:2886" is not an http or https URL'],
    // A query, fragment or path may hold a token: only the origin is echoed.
    [
      ['--obshell.url=http://h:2886/api'],
      '--obshell.url: "http://h:2886" followed by a path (not shown): an agent URL has none',
    ],
    ...['/?password=S3cr3t', '/#S3cr3t', '#S3cr3t', '?S3cr3t'].map((rest): [string[], string] => [
      [`--obshell.url=http://h:2886${rest}`],
      '--obshell.url: "http://h:2886" followed by a query or fragment (not shown): an agent URL has neither',
    ]),
    [
      ['--obshell.url=http://root:pw@h:2886'],
      '--obshell.url: must not contain a user or password (use a password file)',
    ],
    // Passwords holding `/`, `?` or `#` do not parse as a user part: still refused, never echoed.
    ...['S3cr/t', 'p#ss', 'pa?ss', '1234/x'].map((pw): [string[], string] => [
      [`--obshell.url=http://root:${pw}@h:2886`],
      '--obshell.url: must not contain a user or password (use a password file)',
    ]),
    [['--obshell.url=,'], '--obshell.url: must not be empty'],
    [['--obshell.url=https://h:0'], '--obshell.url: "https://h:0" has port 0, which no agent listens on'],
    [['--obshell.target-name= '], '--obshell.target-name: must not be only whitespace'],
    [['--obshell.insecure-skip-verify=yes'], '--obshell.insecure-skip-verify: "yes" is not true or false'],
    [['--demo=1'], '--demo: "1" is not true or false'],
    [
      ['--poll.schedule=every 15s'],
      '--poll.schedule: "every 15s" is not a valid cron expression (e.g. "*/15 * * * * *")',
    ],
    [
      ['--poll.schedule=61 * * * * *'],
      '--poll.schedule: "61 * * * * *" is not a valid cron expression (e.g. "*/15 * * * * *")',
    ],
    [
      ['--web.listen-address=9886'],
      '--web.listen-address: "9886" is not host:port (e.g. ":9886" or "127.0.0.1:9886")',
    ],
    [['--web.listen-address=:99999'], '--web.listen-address: ":99999" has a port above 65535'],
    [['--web.telemetry-path=metrics'], '--web.telemetry-path: "metrics" must start with "/"'],
    [
      ['--web.telemetry-path=/'],
      '--web.telemetry-path: "/" is reserved (/, /-/healthy, /-/ready, /-/reload)',
    ],
    [
      ['--web.telemetry-path=/-/ready'],
      '--web.telemetry-path: "/-/ready" is reserved (/, /-/healthy, /-/ready, /-/reload)',
    ],
    [['--targets.shard=1'], '--targets.shard: "1" is not i/n (e.g. "0/3")'],
    [['--targets.shard=3/3'], '--targets.shard: "3/3" needs 0 <= i < n'],
    [['--targets.shard=0/0'], '--targets.shard: "0/0" needs 0 <= i < n'],
    [['--limits.nodes=0'], '--limits.nodes: "0" is not a positive integer'],
    [['--limits.task-types=ten'], '--limits.task-types: "ten" is not a positive integer'],
    [
      ['--limits.label-length', '-1'],
      '--limits.label-length: missing value (got "-1"; write --limits.label-length=-1 if you mean it)',
    ],
    [['--limits.label-length=-1'], '--limits.label-length: "-1" is not a positive integer'],
    [['--obshell.password-file='], '--obshell.password-file: must not be empty'],
  ])('%j', (argv, message) => {
    expect(usageError(argv)).toBe(message);
  });

  test('an env var with a bad value is named by its variable', () => {
    expect(usageError([], { OBSHELL_EXPORTER_LOG_LEVEL: 'loud' })).toBe(
      'OBSHELL_EXPORTER_LOG_LEVEL: "loud" is not one of debug, info, warn, error',
    );
  });

  test('every problem is reported, in argument order', () => {
    expect(usageError(['--bogus', '--log.level=x', '--obshell.timeout=5'])).toBe(
      [
        '--bogus: unknown flag',
        '--log.level: "x" is not one of debug, info, warn, error',
        '--obshell.timeout: "5" has no unit (use ms, s, m, h or d, e.g. "10s")',
      ].join('\n'),
    );
  });
});

describe('parseCommandLine reads flags and env', () => {
  test('--flag=value and --flag value are the same', () => {
    const a = parseCommandLine(['--log.level=debug', '--obshell.timeout=2m'], {});
    const b = parseCommandLine(['--log.level', 'debug', '--obshell.timeout', '2m'], {});
    expect(a.flags).toEqual(b.flags);
    expect(a.flags).toEqual({ 'log.level': 'debug', 'obshell.timeout': 120_000 });
  });

  test('--obshell.url is repeatable and takes comma lists; URLs become origins', () => {
    const cli = parseCommandLine(
      ['--obshell.url=http://a:1, https://b/', '--obshell.url', 'http://[::1]:2886,'],
      {},
    );
    expect(cli.flags['obshell.url']).toEqual(['http://a:1', 'https://b', 'http://[::1]:2886']);
  });

  test('a flag wins over its env var; env fills the rest; empty env is unset', () => {
    const cli = parseCommandLine(['--log.level=warn'], {
      OBSHELL_EXPORTER_LOG_LEVEL: 'debug',
      OBSHELL_EXPORTER_LOG_FORMAT: 'pretty',
      OBSHELL_EXPORTER_OBSHELL_URL: 'http://a:1,http://b:2',
      OBSHELL_EXPORTER_WEB_TELEMETRY_PATH: '',
    });
    expect(cli.flags).toEqual({
      'log.level': 'warn',
      'log.format': 'pretty',
      'obshell.url': ['http://a:1', 'http://b:2'],
    });
    expect(cli.sources).toEqual({
      'log.level': '--log.level',
      'log.format': 'OBSHELL_EXPORTER_LOG_FORMAT',
      'obshell.url': 'OBSHELL_EXPORTER_OBSHELL_URL',
    });
  });

  test('booleans: bare, =true, =false, and from env', () => {
    expect(parseCommandLine(['--demo'], {}).flags.demo).toBe(true);
    expect(parseCommandLine(['--demo=false'], {}).flags.demo).toBe(false);
    expect(parseCommandLine([], { OBSHELL_EXPORTER_OBSHELL_INSECURE_SKIP_VERIFY: 'true' }).flags).toEqual({
      'obshell.insecure-skip-verify': true,
    });
  });

  test.each([
    [[], 'run'],
    [['--config.check'], 'check'],
    [['--version'], 'version'],
    [['--help'], 'help'],
    [['-h'], 'help'],
    [['--help', '--bogus', '--log.level=x'], 'help'],
    [['--version', '--config.check'], 'version'],
  ])('%j is the %s command', (argv, command) => {
    expect(parseCommandLine(argv, {}).command).toBe(command);
  });

  test('the CommandLine holds no env values, so logging it cannot leak a password', () => {
    const cli = parseCommandLine([], { OBSHELL_PASSWORD: 'canary-env-password' });
    expect(cli.hasEnv('OBSHELL_PASSWORD')).toBe(true);
    expect(cli.hasEnv('OBSHELL_AGENT_PASSWORD')).toBe(false);
    expect(JSON.stringify(cli)).not.toContain('canary-env-password');
  });

  test('--help and --version are not read from env', () => {
    expect(
      parseCommandLine([], { OBSHELL_EXPORTER_HELP: 'true', OBSHELL_EXPORTER_VERSION: 'true' }).command,
    ).toBe('run');
  });

  test('parsed values: shard, limits, listen address, schedule', () => {
    const cli = parseCommandLine(
      [
        '--targets.shard=2/5',
        '--limits.nodes=10',
        '--web.listen-address=[::1]:0',
        '--poll.schedule=*/5 * * * * *',
      ],
      {},
    );
    expect(cli.flags).toEqual({
      'targets.shard': { index: 2, count: 5 },
      'limits.nodes': 10,
      'web.listen-address': '[::1]:0',
      'poll.schedule': '*/5 * * * * *',
    });
  });
});

describe('usage', () => {
  test.each(Object.keys(flagSpecs) as FlagName[])('mentions --%s with its env var and default', (name) => {
    const spec = flagSpecs[name];
    expect(usage).toContain(`--${name}`);
    if (spec.env) expect(usage).toContain(envName(name));
    if (spec.default !== undefined) expect(usage).toContain(`default: ${spec.default}`);
  });

  test('names the password env vars and the env naming rule', () => {
    expect(usage).toContain('OBSHELL_PASSWORD');
    expect(usage).toContain('OBSHELL_AGENT_PASSWORD');
    expect(envName('web.config.file')).toBe('OBSHELL_EXPORTER_WEB_CONFIG_FILE');
    expect(envName('obshell.insecure-skip-verify')).toBe('OBSHELL_EXPORTER_OBSHELL_INSECURE_SKIP_VERIFY');
  });
});
