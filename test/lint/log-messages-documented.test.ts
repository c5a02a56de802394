/**
 * docs/operators.md section 7 says it quotes every message an operator will
 * meet. This holds it to that for the warnings and errors the daemon logs:
 * each `.warn(...)` and `.error(...)` under src/ and drivers/ whose message
 * is a literal must have its start (the first 40 characters, up to any
 * `${...}`) quoted in the guide or in a driver's or systemd's README.
 *
 * Left out: the simulator, the demo, the lame cloud and the test controller
 * (none of them runs in the daemon), cloudtest (its report names every step)
 * and cli.ts (usage errors on stderr, not log lines).
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tsFiles } from './files.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DOCS = ['docs/operators.md', 'drivers/ec2/README.md', 'drivers/gce/README.md', 'systemd/README.md'];
const LEFT_OUT = ['src/sim/', 'src/demo/', 'src/testcontroller/', 'drivers/lame/', 'src/cloudtest/', 'src/cli.ts'];
const QUOTED_CHARS = 40;

/** A log call at warn or error level with a literal message: the quote character, then the text. */
const CALL = /\.(?:warn|error)\(\s*(['"`])((?:\\.|(?!\1)[^\\])*)\1/g;

const squeeze = (text: string): string => text.replace(/\s+/g, ' ');

/** The part of a message the guide must quote: up to any interpolation, whitespace squeezed, at most QUOTED_CHARS. */
export function quotedStart(message: string): string {
  const literal = message.split('${')[0].replace(/\\(['"`\\])/g, '$1');
  return squeeze(literal).trimEnd().slice(0, QUOTED_CHARS);
}

/** Every literal warn/error message in `text`, with its line. */
export function logMessages(text: string): Array<{ line: number; message: string }> {
  const out: Array<{ line: number; message: string }> = [];
  for (const m of text.matchAll(CALL)) out.push({ line: text.slice(0, m.index).split('\n').length, message: m[2] });
  return out;
}

describe('lint: every warning and error the daemon logs is quoted in the operators\' guide', () => {
  it('finds the calls it checks (the check is not vacuous)', () => {
    const sample = "log.warn('first one', {});\nthis.errors.error(\n  `second ${x} one`,\n  {},\n);\nlog.info('not this');";
    assert.deepEqual(logMessages(sample), [
      { line: 1, message: 'first one' },
      { line: 2, message: 'second ${x} one' },
    ]);
    assert.equal(quotedStart("can\\'t   do ${what} now"), "can't do");
  });

  it('each message start appears in the docs', () => {
    const docs = squeeze(DOCS.map((d) => readFileSync(join(ROOT, d), 'utf8')).join('\n').replace(/`/g, ''));
    const files = [...tsFiles(join(ROOT, 'src')), ...tsFiles(join(ROOT, 'drivers'))]
      .map((f) => relative(ROOT, f).split(sep).join('/'))
      .filter((f) => f.endsWith('.ts') && !LEFT_OUT.some((p) => f.startsWith(p)));
    let checked = 0;
    const missing: string[] = [];
    for (const f of files) {
      for (const { line, message } of logMessages(readFileSync(join(ROOT, f), 'utf8'))) {
        const start = quotedStart(message);
        if (start.length < 8) continue;
        checked++;
        if (!docs.includes(start)) missing.push(`${f}:${line}: ${start}`);
      }
    }
    assert.ok(checked > 80, `only ${checked} messages found: has the pattern stopped matching?`);
    assert.deepEqual(missing, [], 'quote these in docs/operators.md section 7 (or the driver README)');
  });
});
