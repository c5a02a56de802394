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
import { existsSync } from 'node:fs';
import { ensureDebPackage } from './apt-get.mjs';

const CHROMIUM = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

ensureDebPackage({
  pkg: 'chromium',
  present: () => (existsSync(CHROMIUM) ? CHROMIUM : undefined),
  missing: `${CHROMIUM} is missing`,
  consequence: 'the browser test will skip',
  skipEnv: 'SKIP_CHROMIUM_INSTALL',
  note: (msg) => process.stderr.write(`ensure-chromium: ${msg}\n`),
});
