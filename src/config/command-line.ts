/** argv + environment → a typed CommandLine. Shape errors here are usage errors (exit 2). */
import { parseArgs } from 'node:util';
import { UsageError } from '../errors.js';
import { envName, flagNames, flagSpecs } from './flags.js';
import type { FlagSpec } from './flags.js';
import { attempt, quote } from './problems.js';
import type { CliFlags, CommandLine, FlagName } from './types.js';

/** Raw texts of one flag and where they came from (`--flag` or the env var), for messages. */
type Given = { raws: string[]; source: string };
type ParseArgsOption = { type: 'string' | 'boolean'; short?: string };

// Booleans must be declared so that `--demo next` does not swallow `next`; -h is the one short alias.
const parseArgsOptions: Record<string, ParseArgsOption> = Object.fromEntries(
  flagNames.map((name) => [name, { type: flagSpecs[name].boolean ? 'boolean' : 'string' }]),
);
parseArgsOptions['help'] = { type: 'boolean', short: 'h' };

function isFlagName(name: string): name is FlagName {
  return Object.hasOwn(flagSpecs, name);
}

type OptionToken = {
  name: string;
  rawName: string;
  value?: string | undefined;
  inlineValue?: boolean | undefined;
};

/** One option token → its raw text, or a problem. Booleans take `true` when bare. */
function rawValue(token: OptionToken, spec: FlagSpec<unknown>, problems: string[]): string | undefined {
  const flag = `--${token.name}`;
  if (spec.boolean) return token.inlineValue === true ? (token.value ?? '') : 'true';
  if (token.value === undefined) {
    problems.push(`${flag}: missing value`);
    return undefined;
  }
  // parseArgs happily takes the next flag as the value: `--log.level --demo`.
  if (token.inlineValue !== true && token.value.startsWith('-') && token.value !== '-') {
    problems.push(
      `${flag}: missing value (got ${quote(token.value)}; write ${flag}=${token.value} if you mean it)`,
    );
    return undefined;
  }
  return token.value;
}

function addToken(given: Map<FlagName, Given>, token: OptionToken, problems: string[]): void {
  if (!isFlagName(token.name)) {
    problems.push(`${token.rawName}: unknown flag`);
    return;
  }
  const spec: FlagSpec<unknown> = flagSpecs[token.name];
  const raw = rawValue(token, spec, problems);
  if (raw === undefined) return;
  const earlier = given.get(token.name);
  if (earlier === undefined) given.set(token.name, { raws: [raw], source: `--${token.name}` });
  else if (spec.repeatable) earlier.raws.push(raw);
  else problems.push(`--${token.name}: given more than once`);
}

function positionalProblem(value: string, afterUnknownFlag: string | undefined): string {
  if (afterUnknownFlag !== undefined) {
    return `the argument after ${afterUnknownFlag}: unexpected (not shown: it may be a secret)`;
  }
  // The one command is recognised only as the first argument, before any flag is read.
  if (value === 'simulate')
    return `"simulate": a command, so it goes first ("obshell-exporter simulate [flags]")`;
  return `${quote(value)}: unexpected argument`;
}

/** `-abc` or `-xVALUE`: one dash and more than one character after it (flags take two dashes). */
const isShortGroup = (arg: string | undefined): boolean =>
  arg !== undefined && arg.length > 2 && arg[0] === '-' && arg[1] !== '-';

function collectArgv(argv: string[], problems: string[]): Map<FlagName, Given> {
  const given = new Map<FlagName, Given>();
  // `-pS3cr3t` (a MySQL habit) is a group of one-letter flags to parseArgs: one problem per letter
  // would spell the password out, so such an argument gets one problem that shows none of it.
  const args = argv.filter((arg, i) => {
    if (!isShortGroup(arg)) return true;
    problems.push(`argument ${i + 1}: unknown short flags (not shown: it may hold a secret)`);
    return false;
  });
  const { tokens } = parseArgs({
    args,
    options: parseArgsOptions,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  let unknown: string | undefined;
  for (const token of tokens) {
    if (token.kind === 'positional') problems.push(positionalProblem(token.value, unknown));
    else if (token.kind === 'option') addToken(given, token, problems);
    // `--obshell.password S3cr3t`: the word after an unknown flag may be its value, so a secret.
    unknown =
      token.kind === 'option' && !isFlagName(token.name) && token.inlineValue !== true
        ? token.rawName
        : undefined;
  }
  return given;
}

/** Env fills only what argv left unset (flags win); an empty variable counts as unset. */
function collectEnv(given: Map<FlagName, Given>, env: Readonly<Record<string, string | undefined>>): void {
  for (const name of flagNames) {
    const variable = envName(name);
    const value = env[variable];
    if (flagSpecs[name].env && !given.has(name) && value !== undefined && value !== '') {
      given.set(name, { raws: [value], source: variable });
    }
  }
}

function convert(name: FlagName, given: Given, problems: string[]): unknown {
  const spec: FlagSpec<unknown> = flagSpecs[name];
  const parsed = given.raws.map((raw) => attempt(problems, given.source, () => spec.parse(raw)));
  if (spec.repeatable) return parsed.flatMap((value) => (Array.isArray(value) ? (value as unknown[]) : []));
  return parsed[0];
}

function commandOf(flags: CliFlags): CommandLine['command'] {
  if (flags.help === true) return 'help';
  if (flags.version === true) return 'version';
  return flags['config.check'] === true ? 'check' : 'run';
}

/** Parses flags (`--flag=value` or `--flag value`) and `OBSHELL_EXPORTER_*`; throws UsageError naming each bad flag. */
export function parseCommandLine(argv: string[], env: Record<string, string | undefined>): CommandLine {
  const problems: string[] = [];
  const given = collectArgv(argv, problems);
  collectEnv(given, env);
  const flags: CliFlags = {};
  const sources: Partial<Record<FlagName, string>> = {};
  for (const [name, entry] of given) {
    const value = convert(name, entry, problems);
    if (value !== undefined) (flags as Record<string, unknown>)[name] = value;
    sources[name] = entry.source;
  }
  const hasEnv = (name: string): boolean => env[name] !== undefined;
  const cli: CommandLine = { command: commandOf(flags), flags, sources, hasEnv };
  // --help and --version answer even when other flags are wrong, as people reach for them when lost.
  if (problems.length > 0 && cli.command !== 'help' && cli.command !== 'version') {
    throw new UsageError(problems.join('\n'));
  }
  return cli;
}
