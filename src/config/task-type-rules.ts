/** `task_type_rules`: user rules that map raw task names to a bounded task_type, compiled at load. */
import { fail, quote } from './problems.js';
import type { TaskTypeRule } from './types.js';
import { keyPath, readList, readMapping, readString } from './yaml-walk.js';
import { parseNonEmpty } from './values.js';

const ruleKeys = ['match', 'task_type'];

function compileRule(text: string): RegExp {
  try {
    return new RegExp(text);
  } catch (error) {
    // V8 says "Invalid regular expression: /(/: Unterminated group"; keep the reason only.
    const reason = error instanceof Error ? error.message.replace(/^.*: /s, '') : 'invalid';
    return fail(`${quote(text)} is not a valid regular expression (${reason})`);
  }
}

function readRule(value: unknown, path: string, problems: string[]): TaskTypeRule | undefined {
  const map = readMapping(value, path, ruleKeys, problems);
  if (map === undefined) {
    if (value == null) problems.push(`${path}: must be a mapping`);
    return undefined;
  }
  if (map['match'] == null) problems.push(`${path}.match: is required`);
  if (map['task_type'] == null) problems.push(`${path}.task_type: is required`);
  const pattern = readString(map['match'], keyPath(path, 'match'), problems, compileRule);
  const taskType = readString(map['task_type'], keyPath(path, 'task_type'), problems, parseNonEmpty);
  return pattern && taskType !== undefined ? { pattern, taskType } : undefined;
}

export function readRules(value: unknown, problems: string[]): TaskTypeRule[] {
  const list = readList(value, 'task_type_rules', problems) ?? [];
  return list
    .map((item, i) => readRule(item, `task_type_rules[${i}]`, problems))
    .filter((rule) => rule !== undefined);
}
