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

/** `yamlLineLocator` as the start of a problem line; `file` names the file in it. */
export function yamlWhere(doc: Document, text: string, file?: string): Where {
  const lineOf = yamlLineLocator(doc, text);
  return (path) => {
    const line = lineOf(path);
    if (line === undefined) return undefined;
    return file === undefined ? `line ${line}` : `${file}: line ${line}`;
  };
}

/**
 * Puts `where` the path a problem line found after loading starts with is
 * written before the line (a path with a quoted key or a dot in a key is
 * left unplaced).
 */
export function placer(where: Where): (line: string) => string {
  return (line) => {
    const shown = /^([^\s:"]+): /.exec(line)?.[1];
    const at = shown === undefined ? undefined : where(shown.split('.'));
    return at === undefined ? line : `${at}: ${line}`;
  };
}

export function yamlLineLocator(doc: Document, text: string): LineLocator {
  const lineStarts = [0];
  for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) lineStarts.push(i + 1);
  const lineOf = (offset: number): number => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid] <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo + 1;
  };
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
