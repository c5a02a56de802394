/**
 * House rule 1: time comes from the injected Clock. Outside src/clock/, no
 * file under src/ or drivers/ may read the wall clock or arm a platform
 * timer; otherwise the manual clock cannot drive it and tests and the
 * simulator stop being exact.
 *
 * The status page's scripts (src/http/status/*.js) are left out: the daemon
 * serves them as files and never runs them. They run in the operator's
 * browser, where there is no Clock to inject and the browser's own clock
 * and timers are the right ones (the page refreshes itself every few
 * seconds and says how old what it shows is).
 */
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsFiles } from './files.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const FORBIDDEN: Array<[RegExp, string]> = [
  [/\bDate\s*\.\s*now\s*\(/, 'Date.now()'],
  [/\bnew\s+Date\s*\(\s*\)/, 'new Date() without an argument'],
  [/\bsetTimeout\s*\(/, 'setTimeout'],
  [/\bsetInterval\s*\(/, 'setInterval'],
  [/\bperformance\s*\.\s*now\s*\(/, 'performance.now()'],
  [/from\s+['"](node:)?timers(\/promises)?['"]/, 'an import of node:timers'],
];

/** Blanks out comments and string/template literal contents, keeping line numbers. */
export function stripCommentsAndStrings(src: string): string {
  return src.replace(
    /\/\*[\s\S]*?\*\/|\/\/[^\n]*|'(?:\\.|[^'\\\n])*'|"(?:\\.|[^"\\\n])*"|`(?:\\.|[^`\\])*`/g,
    (m) => {
      // Keep import specifiers visible: they are how a timers import is spotted.
      if (/^['"](node:)?timers/.test(m)) return m;
      return m.replace(/[^\n]/g, ' ');
    },
  );
}

/** Folders whose code is not the daemon's to run on its Clock: the clock itself, and the status page's browser scripts. */
const EXEMPT = [join('src', 'clock'), join('src', 'http', 'status')];

/** Every use of a forbidden timer, as `path:line: what`. */
export function findRawTimers(root: string): string[] {
  const files = [...tsFiles(join(root, 'src')), ...tsFiles(join(root, 'drivers'))].filter(
    (f) => !EXEMPT.some((dir) => relative(root, f).startsWith(dir + sep)),
  );
  const found: string[] = [];
  for (const file of files) {
    const lines = stripCommentsAndStrings(readFileSync(file, 'utf8')).split('\n');
    lines.forEach((line, i) => {
      for (const [re, what] of FORBIDDEN) {
        if (re.test(line)) found.push(`${relative(root, file)}:${i + 1}: ${what}`);
      }
    });
  }
  return found;
}

describe('no raw timers outside src/clock', () => {
  it('finds none in src/ and drivers/', () => {
    assert.deepEqual(findRawTimers(ROOT), []);
  });

  it('would catch each forbidden form, and ignores comments and strings', () => {
    const src = [
      'const a = Date.now();',
      'const b = new Date();',
      'setTimeout(() => {}, 1);',
      'const h = setInterval(f, 5);',
      "import { setTimeout as st } from 'node:timers/promises';",
      'const ok = new Date(clock.now());',
      '// setTimeout( in a comment is fine',
      "const s = 'Date.now() in a string is fine';",
    ].join('\n');
    const stripped = stripCommentsAndStrings(src).split('\n');
    const hits = stripped.map((line) => FORBIDDEN.some(([re]) => re.test(line)));
    assert.deepEqual(hits, [true, true, true, true, true, false, false, false]);
  });

  it('leaves out src/clock/ and the status page\'s browser scripts, and nothing beside them', () => {
    const root = mkdtempSync(join(tmpdir(), 'adc-lint-'));
    try {
      const files = ['src/clock/system.ts', 'src/http/status/page.js', 'src/http/status-page.ts', 'src/clockwork.ts', 'drivers/x/index.ts'];
      for (const f of files) {
        mkdirSync(join(root, dirname(f)), { recursive: true });
        writeFileSync(join(root, f), 'setTimeout(f, 1);\n');
      }
      assert.deepEqual(findRawTimers(root).sort(), [
        join('drivers', 'x', 'index.ts') + ':1: setTimeout',
        join('src', 'clockwork.ts') + ':1: setTimeout',
        join('src', 'http', 'status-page.ts') + ':1: setTimeout',
      ]);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
