/**
 * Where a YAML path is written in the file: the line of its key (of its
 * item, in a list), so that a problem can name the line to fix as well as
 * the path. The path is looked up as the loader reads it: aliases are
 * followed to what they name, merged entries (already written into their
 * maps, go-yaml.ts) are found where their anchor's map wrote them, and of a
 * key given twice the last one counts. A path the file does not write (a
 * missing key, a value a migration moved) has no line.
 */
import { isAlias, isMap, isScalar, isSeq, type Document, type Node } from 'yaml';
import type { Path } from './problems.js';

/** The 1-based line where `path` is written in the text `doc` was parsed from, or undefined. */
export type LineLocator = (path: Path) => number | undefined;

/** Where `path` is written, as a problem line starts: `file: line 12` (`line 12` without a file), or undefined. */
export type Where = (path: Path) => string | undefined;

/** A line as a problem line starts with it: `file: line 12`, or `line 12` without a file. */
export function atLine(line: number, file?: string): string {
  return file === undefined ? `line ${line}` : `${file}: line ${line}`;
}

/** `yamlLineLocator` as the start of a problem line; `file` names the file in it. */
export function yamlWhere(doc: Document, text: string, file?: string): Where {
  const lineOf = yamlLineLocator(doc, text);
  return (path) => {
    const line = lineOf(path);
    return line === undefined ? undefined : atLine(line, file);
  };
}

/**
 * Puts `where` the path a problem line found after loading starts with is
 * written before the line. The path is read as `showPath` writes it: a key
 * may be quoted (as JSON) or hold dots (`InstanceTypes.m5.large.Price`), so
 * the dotted parts are split into keys as the file has them, the shortest
 * key first. A line whose path the file does not write is left as it is.
 */
export function placer(where: Where): (line: string) => string {
  return (line) => {
    const parts = shownPathParts(line);
    const path = parts === undefined ? undefined : pathInFile(parts, where);
    const at = path === undefined ? undefined : where(path);
    return at === undefined ? line : `${at}: ${line}`;
  };
}

/** A run of keys written plain and joined by dots (to split), or one quoted key. */
type ShownPart = { dotted: string } | { key: string };

const QUOTED_KEY = /^"(?:[^"\\]|\\.)*"/;

/**
 * The parts of the path a problem line starts with (everything before the
 * first ": " outside a quoted key), or undefined when the line does not
 * start with a path.
 */
function shownPathParts(line: string): ShownPart[] | undefined {
  const parts: ShownPart[] = [];
  let rest = line;
  for (;;) {
    if (rest.startsWith('"')) {
      const quoted = QUOTED_KEY.exec(rest)?.[0];
      if (quoted === undefined) return undefined;
      parts.push({ key: JSON.parse(quoted) as string });
      rest = rest.slice(quoted.length);
      if (rest.startsWith(': ')) return parts;
      if (!rest.startsWith('.')) return undefined;
      rest = rest.slice(1);
      continue;
    }
    const end = rest.indexOf(': ');
    const quote = rest.indexOf('."');
    if (end <= 0 && quote <= 0) return undefined;
    const stop = quote > 0 && (end < 0 || quote < end) ? quote : end;
    const dotted = rest.slice(0, stop);
    parts.push({ dotted });
    if (stop === end) return parts;
    rest = rest.slice(stop + 1);
  }
}

/** The keys `parts` name in the file (dotted runs split where the file's keys are), or undefined. */
function pathInFile(parts: readonly ShownPart[], where: Where): string[] | undefined {
  const walk = (path: string[], part: number, pieces: readonly string[]): string[] | undefined => {
    if (pieces.length === 0) {
      if (part === parts.length) return path;
      const next = parts[part];
      if ('key' in next) return where([...path, next.key]) === undefined ? undefined : walk([...path, next.key], part + 1, []);
      return walk(path, part + 1, next.dotted.split('.'));
    }
    for (let n = 1; n <= pieces.length; n++) {
      const key = pieces.slice(0, n).join('.');
      if (where([...path, key]) === undefined) continue;
      const found = walk([...path, key], part, pieces.slice(n));
      if (found !== undefined) return found;
    }
    return undefined;
  };
  return walk([], 0, []);
}

/** The 1-based line of each character offset of `text`. */
export function offsetLines(text: string): (offset: number) => number {
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  return (offset) => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
}

export function yamlLineLocator(doc: Document, text: string): LineLocator {
  const lineOf = offsetLines(text);
  return (path) => {
    let node: unknown = doc.contents;
    let at: number | undefined;
    for (const key of path) {
      if (isAlias(node)) node = node.resolve(doc);
      if (isMap(node)) {
        const pair = node.items.findLast((p) => isScalar(p.key) && String(p.key.value) === key);
        if (!pair) return undefined;
        at = (pair.key as Node).range?.[0];
        node = pair.value;
      } else if (isSeq(node) && /^(?:0|[1-9][0-9]*)$/.test(key)) {
        const item = node.items[Number(key)];
        if (item === undefined) return undefined;
        at = (item as Node | null)?.range?.[0];
        node = item;
      } else {
        return undefined;
      }
    }
    return at === undefined ? undefined : lineOf(at);
  };
}
