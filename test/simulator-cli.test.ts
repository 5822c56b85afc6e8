import { describe, expect, it } from 'vitest';
import { UsageError } from '../src/errors.js';
import { isHelp, parseSimulateArgs, simulateUsage } from '../src/simulator/cli.js';
import { faultModes, scenarioNames } from '../src/simulator/index.js';

const parse = (argv: string[], env: NodeJS.ProcessEnv = {}) => parseSimulateArgs(argv, env);

describe('parseSimulateArgs', () => {
  it('defaults to 127.0.0.1:2886', () => {
    expect(parse([])).toEqual({ host: '127.0.0.1', port: 2886 });
  });

  it('reads every flag, in both --flag value and --flag=value forms', () => {
    const argv = [
      '--listen=0.0.0.0:12886',
      '--scenario',
      'retry',
      '--speed=60',
      '--password',
      'p w',
      '--agent-password=ap',
      '--key-bits',
      '512',
      '--identity',
      'SINGLE',
      '--fault',
      'flap',
    ];
    expect(parse(argv)).toEqual({
      host: '0.0.0.0',
      port: 12886,
      scenario: 'retry',
      speed: 60,
      password: 'p w',
      agentPassword: 'ap',
      keyBits: 512,
      identity: 'SINGLE',
      fault: 'flap',
    });
  });

  it('takes the password from OBSHELL_PASSWORD unless the flag is given', () => {
    expect(parse([], { OBSHELL_PASSWORD: 'env' }).password).toBe('env');
    expect(parse(['--password', 'flag'], { OBSHELL_PASSWORD: 'env' }).password).toBe('flag');
  });

  it('accepts a unix socket and IPv6 listen addresses', () => {
    expect(parse(['--socket', '/tmp/x.sock'])).toEqual({ socketPath: '/tmp/x.sock' });
    expect(parse(['--listen', '[::1]:2886'])).toEqual({ host: '::1', port: 2886 });
    expect(parse(['--listen', ':2887'])).toEqual({ host: '127.0.0.1', port: 2887 });
  });

  it.each([
    [['--listen', 'localhost'], /--listen/],
    [['--listen', '1.2.3.4:70000'], /--listen/],
    [['--speed', '0'], /--speed/],
    [['--speed', 'fast'], /--speed/],
    [['--scenario', 'party'], /--scenario must be one of seed, none/],
    [['--fault', 'boom'], /--fault/],
    [['--key-bits', '2048'], /--key-bits must be one of 512, 1024/],
    [['--identity', 'KING'], /--identity/],
    [['--password'], /--password needs a value/],
    [['--bogus'], /unknown option --bogus/],
    [['-pS3cr3t-Zq9'], /^unknown option -p \(the rest not shown\)$/],
    [['extra'], /unexpected argument "extra"/],
    [['--socket', '/x', '--listen', '1.2.3.4:1'], /--listen and --socket/],
    [['--tls-cert', '/nonexistent.crt', '--tls-key', '/nonexistent.key'], /--tls-cert: cannot read/],
    [['--tls-cert', '/x.crt'], /--tls-cert and --tls-key/],
    [
      ['--socket', '/x.sock', '--tls-cert', '/x.crt', '--tls-key', '/x.key'],
      /need --listen: obshell's unix socket/,
    ],
  ])('rejects %j with a UsageError naming the flag', (argv, message) => {
    expect(() => parse(argv)).toThrow(UsageError);
    expect(() => parse(argv)).toThrow(message);
  });

  it('documents every flag, scenario and fault mode in the usage text', () => {
    for (const word of ['--listen', '--socket', '--speed', '--agent-password', '--key-bits', '--identity']) {
      expect(simulateUsage).toContain(word);
    }
    for (const name of [...scenarioNames, ...faultModes]) expect(simulateUsage).toContain(name);
    expect(isHelp(['--scenario', 'seed', '-h'])).toBe(true);
    expect(isHelp(['--scenario', 'seed'])).toBe(false);
  });
});
