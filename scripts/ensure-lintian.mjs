#!/usr/bin/env node
/**
 * `npm pretest`: makes sure Debian's `lintian` is at hand for the test that
 * builds the Debian package and checks it (test/packaging/deb.test.ts).
 * `dpkg-deb`, which builds and unpacks it, is part of dpkg, on every Debian
 * system.
 *
 * When lintian is missing and we are root with apt-get, install it (without
 * its recommends: it needs none to check a .deb); otherwise say why and carry
 * on: this script never fails `npm test`, the lintian check then skips with
 * the reason. SKIP_LINTIAN_INSTALL=1 turns the install off.
 */
import { existsSync } from 'node:fs';
import { ensureDebPackage } from './apt-get.mjs';

const LINTIAN = '/usr/bin/lintian';

ensureDebPackage({
  pkg: 'lintian',
  present: () => (existsSync(LINTIAN) ? LINTIAN : undefined),
  missing: `${LINTIAN} is missing`,
  consequence: "the package's lintian check will skip",
  skipEnv: 'SKIP_LINTIAN_INSTALL',
  note: (msg) => process.stderr.write(`ensure-lintian: ${msg}\n`),
});
