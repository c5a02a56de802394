/**
 * What the config loading tests share (load.test.ts and
 * load-bad-config.test.ts): the tokens they write, the errors a refused
 * config was refused with, and a config made of a CloudVMs section.
 */
import assert from 'node:assert/strict';
import { ConfigError, loadConfigText, type LoadResult } from '../../src/config/load.js';

export const ROOT_TOKEN = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEF';
export const MGMT_TOKEN = 'ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvu';

export function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

export function errorsOf(fn: () => unknown): string[] {
  return configErrorOf(fn).errors;
}

/** A config of the root token and a CloudVMs section of the lines `cloudVMs` (indented as given). */
export function withCloudVMs(cloudVMs: string): string {
  return `Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT_TOKEN}\n    Containers:\n      CloudVMs:\n${cloudVMs}`;
}

/**
 * Problem lines without the `file: line N: ` the loader puts before a path
 * the file writes (`settings.yml: line 3: X` keeps its file: `settings.yml: X`;
 * loadConfigText's default source "config" goes), for tests about what the
 * lines say; locations.test.ts checks where they point.
 */
export function unlocated(lines: readonly string[]): string[] {
  return lines.map((line) => line.replace(/^config: line \d+: /, '').replace(/^(\S+: )line \d+: /, '$1'));
}

/** loadConfigText with its problem lines `unlocated`, the ConfigError's too. */
export function loadUnlocated(...args: Parameters<typeof loadConfigText>): LoadResult {
  try {
    const result = loadConfigText(...args);
    return { ...result, warnings: unlocated(result.warnings) };
  } catch (err) {
    if (err instanceof ConfigError) throw new ConfigError(unlocated(err.errors), unlocated(err.warnings));
    throw err;
  }
}

/** The 1-based line of `text` where `pattern` first matches (fails when it does not). */
export function lineNumberOf(text: string, pattern: RegExp): number {
  const at = text.search(pattern);
  assert.ok(at >= 0, `${String(pattern)} not found`);
  return text.slice(0, at).split('\n').length;
}

/** The YAML path a problem line is about, after any `file: line N: `. */
export function problemPath(line: string): string {
  return line.replace(/^.*?: line \d+: /, '').split(': ')[0];
}
