/** What the config and settings fuzz tests check of a problem the loader placed on a line of the file. */
import assert from 'node:assert/strict';

/**
 * A problem placed on line `at` of `text`: that line exists, and holds the
 * last key of the problem's path when that key is a plain name (an Arvados
 * key like `MaxInstances`; other keys may be written otherwise, as `on` is
 * the key "true").
 */
export function assertLineHoldsKey(text: string, at: number, body: string, context: string): void {
  const lines = text.split('\n');
  assert.ok(at >= 1 && at <= lines.length, `line ${at} is not in the file\n${context}`);
  const path = /^([^\s"][^\s:]*): /.exec(body)?.[1];
  const last = path?.split('.').pop();
  if (last !== undefined && /^[A-Z][a-z][A-Za-z0-9]*$/.test(last)) {
    assert.ok(lines[at - 1].includes(last), `line ${at} (${JSON.stringify(lines[at - 1])}) does not hold ${last}: ${JSON.stringify(body)}\n${context}`);
  }
}
