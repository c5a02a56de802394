/**
 * What a source file imports, read with a few regular expressions over its
 * text (the project's TypeScript has no compiler API to ask). Good enough
 * for the layout rules: the project writes imports one way, and the tests of
 * this scanner pin the forms it must see.
 */
import { readFileSync } from 'node:fs';
import { dirname, relative, resolve } from 'node:path';

export interface ImportRecord {
  /** The module specifier as written. */
  specifier: string;
  /** True when nothing of it exists at run time (`import type`, or every named binding is `type`). */
  typeOnly: boolean;
  /** `import('...')`. */
  dynamic: boolean;
}

/** Blanks out comments, keeping strings (import specifiers are strings) and line breaks. */
export function stripComments(src: string): string {
  return src.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`/g, (m) =>
    m.startsWith('/') ? m.replace(/[^\n]/g, ' ') : m,
  );
}

const STATIC_FROM = /(?:^|[;\n}])\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/g;
const SIDE_EFFECT = /(?:^|[;\n}])\s*import\s*['"]([^'"]+)['"]/g;
const DYNAMIC = /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g;

/** Every import and re-export in `src`. */
export function importsOf(src: string): ImportRecord[] {
  const text = stripComments(src);
  const out: ImportRecord[] = [];
  for (const m of text.matchAll(STATIC_FROM)) {
    const clause = m[3].trim();
    const named = /^\{([\s\S]*)\}$/.exec(clause);
    const allTypes =
      named !== null &&
      named[1]
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '')
        .every((s) => s.startsWith('type '));
    out.push({ specifier: m[4], typeOnly: m[2] !== undefined || allTypes, dynamic: false });
  }
  for (const m of text.matchAll(SIDE_EFFECT)) out.push({ specifier: m[1], typeOnly: false, dynamic: false });
  for (const m of text.matchAll(DYNAMIC)) out.push({ specifier: m[1], typeOnly: false, dynamic: true });
  return out;
}

/** The imports of `file` whose relative specifier resolves inside `dir` (both absolute paths). */
export function importsInto(file: string, dir: string): ImportRecord[] {
  return importsOf(readFileSync(file, 'utf8')).filter((r) => {
    if (!r.specifier.startsWith('.')) return false;
    const target = relative(dir, resolve(dirname(file), r.specifier));
    return target !== '' && !target.startsWith('..');
  });
}
