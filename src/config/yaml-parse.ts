/**
 * YAML text → a plain value, for the config file and the web config alike. Problems carry only the
 * YAML error's words (yamlReason), its position and the key that holds it: never file content.
 */
import {
  isMap,
  isNode,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  visit,
  type Document,
  type ErrorCode,
  type YAMLError,
} from 'yaml';
import { ConfigError } from '../errors.js';
import { keyPath } from './yaml-walk.js';

export type YamlProblem = { reason: string; line?: number; col?: number; key?: string };

/**
 * yaml quotes the text it stumbled on in some messages (`Unexpected scalar token in YAML stream:
 * "…"`, `Could not resolve tag: !…`), and a typo can make that text a password, a bcrypt hash or a
 * private key. Messages of these codes embed file content, so they get a fixed reason instead.
 */
const fixedReasons: Partial<Record<ErrorCode, string>> = {
  TAG_RESOLVE_FAILED: 'unknown tag (quote a value that starts with !)',
  BAD_DIRECTIVE: 'invalid directive (quote a value that starts with %)',
  BAD_DQ_ESCAPE: 'invalid escape sequence in a double-quoted value (single quotes take \\ as is)',
  BAD_COLLECTION_TYPE: 'a tag that does not fit this value',
  // yaml's own message advises a function of its API.
  MULTIPLE_DOCS: 'more than one YAML document (a "---" line): keep one',
};

/** yaml's reason without the file content it may quote: the rest of its messages are fixed words. */
export function yamlReason(error: YAMLError): string {
  const fixed = fixedReasons[error.code];
  if (fixed) return fixed;
  const sentence = error.message.split(' at line ')[0] ?? error.message;
  // UNEXPECTED_TOKEN's messages put the offending text after ': ' (`Not a YAML token: …`).
  return error.code === 'UNEXPECTED_TOKEN' ? (sentence.split(': ')[0] ?? sentence) : sentence;
}

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
 * Where a mapping's key is itself a list or a mapping (`? a: b`, `[a, b]: c`). No config key is
 * one, and yaml turns such a key into its text, which a message naming the key would then print.
 */
function complexKeys(doc: Document, lines: LineCounter): YamlProblem[] {
  const problems: YamlProblem[] = [];
  visit(doc, {
    Pair(_, pair) {
      if (isScalar(pair.key) || pair.key === null) return;
      const at = isNode(pair.key) && pair.key.range ? lines.linePos(pair.key.range[0]) : undefined;
      problems.push({ reason: 'a key must be a plain value, not a list or a mapping', ...at });
    },
  });
  return problems;
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
        return { reason: yamlReason(error), ...(at && { line: at.line, col: at.col }) };
      }),
    };
  }
  const keyProblems = complexKeys(doc, lines);
  if (keyProblems.length > 0) return { problems: keyProblems };
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
