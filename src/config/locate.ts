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
