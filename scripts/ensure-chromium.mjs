#!/usr/bin/env node
/**
 * `npm pretest`: makes sure Debian's Chromium is at /usr/bin/chromium for the
 * browser test of the status page (test/http/status-page.test.ts).
 *
 * No browser download from npm works on our machines (playwright's own
 * download is blocked), so the browser comes from Debian's package. When it
 * is missing and we are root with apt-get, install it; otherwise say why and
 * carry on: this script never fails `npm test`, the browser test then skips
 * with a reason instead.
 *
 * Environment: CHROMIUM_PATH overrides the path checked (the test reads it
 * too); SKIP_CHROMIUM_INSTALL=1 turns the install off.
 */
import { APT_GET, aptGet } from './apt-get.mjs';
import { existsSync } from 'node:fs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

function note(msg) {
  process.stderr.write(`ensure-chromium: ${msg}\n`);
}

function run(args) {
  return aptGet(args, note);
}

function main() {
  if (existsSync(CHROMIUM)) return;
  if (process.env.SKIP_CHROMIUM_INSTALL === '1') {
    note(`${CHROMIUM} is missing and SKIP_CHROMIUM_INSTALL=1: the browser test will skip`);
    return;
  }
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    note(`${CHROMIUM} is missing and we are not root, so it cannot be installed: ` +
      'run `apt-get install -y chromium` as root, or the browser test will skip');
    return;
  }
  if (!existsSync(APT_GET)) {
    note(`${CHROMIUM} is missing and there is no apt-get here: the browser test will skip`);
    return;
  }
  note(`${CHROMIUM} is missing: installing Debian's chromium package`);
  if (!run(['update'])) {
    note('continuing without Chromium: the browser test will skip');
    return;
  }
  if (!run(['install', '-y', '--no-install-recommends', 'chromium'])) {
    note('continuing without Chromium: the browser test will skip');
    return;
  }
  note(existsSync(CHROMIUM) ? `installed ${CHROMIUM}` : `installed, but ${CHROMIUM} is still missing: the browser test will skip`);
}

main();
