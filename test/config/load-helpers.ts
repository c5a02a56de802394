/**
 * What the config loading tests share (load.test.ts and
 * load-bad-config.test.ts): the tokens they write, the errors a refused
 * config was refused with, and a config made of a CloudVMs section.
 */
import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/load.js';

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
