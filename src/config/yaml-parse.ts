/**
 * YAML text → a plain value, for the config file and the web config alike. Problems carry only the
 * YAML error's first sentence, its position and the key that holds it: never file content.
 */
import { isMap, isNode, isScalar, isSeq, LineCounter, parseDocument, visit, type Document } from 'yaml';
import { ConfigError } from '../errors.js';
import { keyPath } from './yaml-walk.js';

export type YamlProblem = { reason: string; line?: number; col?: number; key?: string };

/** Line and column of the first alias whose anchor is not defined before it. */
function unresolvedAliasAt(doc: Document, lines: LineCounter): { line?: number; col?: number } {
  let at = {};
  visit(doc, {
    Alias(_, alias) {
      if (alias.resolve(doc) !== undefined || alias.range == null) return undefined;
      at = lines.linePos(alias.range[0]);
      return visit.BREAK;
    },
  });
  return at;
}

/** The deepest key (or list index) whose value cannot be turned into JavaScript, so a message can name it. */
function keyThatFails(doc: Document, node: unknown, path: string): string {
  const children: [string | number, unknown][] = isMap(node)
    ? node.items.flatMap(({ key, value }) => (isScalar(key) ? [[String(key.value), value] as const] : []))
    : isSeq(node)
      ? node.items.map((item, index) => [index, item] as const)
      : [];
  for (const [key, value] of children) {
    if (!isNode(value)) continue;
    try {
      value.toJS(doc);
    } catch {
      return keyThatFails(doc, value, keyPath(path, key));
    }
  }
  return path;
}

/**
 * Syntax errors end the check at once (the structure is unknown). Aliases are resolved by toJS,
 * after the syntax check: an undefined anchor or a billion-laughs expansion throws there. The
 * alias name after yaml's ": " is left out (it is file content, maybe a value starting with '*').
 */
export function parseYamlText(text: string): { value: unknown } | { problems: YamlProblem[] } {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    return {
      problems: doc.errors.map((error) => {
        const at = error.linePos?.[0];
        const reason = error.message.split(' at line ')[0] ?? error.message;
        return { reason, ...(at && { line: at.line, col: at.col }) };
      }),
    };
  }
  try {
    return { value: doc.toJS() as unknown };
  } catch (error) {
    const reason =
      error instanceof ReferenceError ? (error.message.split(': ')[0] ?? '') : 'cannot be read as YAML';
    const key = keyThatFails(doc, doc.contents, '');
    return { problems: [{ reason, ...unresolvedAliasAt(doc, lines), ...(key && { key }) }] };
  }
}

/** The config file's YAML; every problem names the file, line and column, and key, where known. */
export function parseYaml(path: string, text: string): unknown {
  const parsed = parseYamlText(text);
  if ('value' in parsed) return parsed.value;
  throw new ConfigError(
    parsed.problems.map(
      ({ reason, line, col, key }) =>
        `${path}${line ? `:${line}:${col}` : ''}: ${key ? `${key}: ` : ''}${reason}`,
    ),
  );
}
