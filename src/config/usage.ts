/** The --help text, generated from the flag table so that no flag can be missing from it. */
import { envName, flagNames, flagSpecs } from './flags.js';
import type { FlagName } from './types.js';

function flagColumn(name: FlagName): string {
  const spec = flagSpecs[name];
  return spec.placeholder !== undefined ? `--${name}=<${spec.placeholder}>` : `--${name}`;
}

function flagEntry(name: FlagName, width: number): string {
  const spec = flagSpecs[name];
  const facts = [
    ...(spec.default !== undefined ? [`default: ${spec.default}`] : []),
    ...(spec.env ? [`env: ${envName(name)}`] : []),
  ];
  const first = `  ${flagColumn(name).padEnd(width)}  ${spec.help}`;
  return facts.length > 0 ? `${first}\n  ${' '.repeat(width)}  (${facts.join(', ')})` : first;
}

const width = Math.max(...flagNames.map((name) => flagColumn(name).length));

export const usage = `Usage: obshell-exporter [flags]
       obshell-exporter simulate [flags]   (the built-in obshell simulator)

Prometheus exporter for OceanBase obshell maintenance tasks (DAGs).

Every flag can also be set by its environment variable; a flag given on the command line wins.
Booleans take --flag, --flag=true or --flag=false. Durations take units: 500ms, 10s, 2m, 1h30m.
Passwords: --obshell.password-file, else the variable OBSHELL_PASSWORD (root@sys); likewise
--obshell.agent-password-file, else OBSHELL_AGENT_PASSWORD. Many clusters: --config.file.

Flags:
${flagNames.map((name) => flagEntry(name, width)).join('\n')}
`;
