/** YAML text → a plain value, or a ConfigError naming the file (with line and column where known). */
import { LineCounter, parseDocument, visit, type Document } from 'yaml';
import { ConfigError } from '../errors.js';

/** `:line:col` of the first alias whose anchor is not defined before it, or ''. */
function unresolvedAliasAt(doc: Document, lines: LineCounter): string {
  let at = '';
  visit(doc, {
    Alias(_, alias) {
      if (alias.resolve(doc) !== undefined || alias.range == null) return undefined;
      const { line, col } = lines.linePos(alias.range[0]);
      at = `:${line}:${col}`;
      return visit.BREAK;
    },
  });
  return at;
}

/**
 * Aliases are resolved by toJS, after the syntax check: an undefined anchor or a billion-laughs
 * expansion throws there. The alias name after yaml's ": " is left out (it is file content).
 */
function toPlainValue(path: string, doc: Document, lines: LineCounter): unknown {
  try {
    return doc.toJS() as unknown;
  } catch (error) {
    const reason =
      error instanceof ReferenceError ? (error.message.split(': ')[0] ?? '') : 'cannot be read as YAML';
    throw new ConfigError([`${path}${unresolvedAliasAt(doc, lines)}: ${reason}`]);
  }
}

/** YAML syntax errors end the check at once (the structure is unknown); each names the file, line and column. */
export function parseYaml(path: string, text: string): unknown {
  const lines = new LineCounter();
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true, lineCounter: lines });
  if (doc.errors.length > 0) {
    throw new ConfigError(
      doc.errors.map((error) => {
        const at = error.linePos?.[0];
        const reason = error.message.split(' at line ')[0] ?? error.message;
        return `${path}${at ? `:${at.line}:${at.col}` : ''}: ${reason}`;
      }),
    );
  }
  return toPlainValue(path, doc, lines);
}
