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
import { APT_GET, aptGet } from './apt-get.mjs';

const LINTIAN = '/usr/bin/lintian';

function note(msg) {
  process.stderr.write(`ensure-lintian: ${msg}\n`);
}

function main() {
  if (existsSync(LINTIAN)) return;
  if (process.env.SKIP_LINTIAN_INSTALL === '1') {
    note(`${LINTIAN} is missing and SKIP_LINTIAN_INSTALL=1: the package's lintian check will skip`);
    return;
  }
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    note(`${LINTIAN} is missing and we are not root: run \`apt-get install -y lintian\` as root, or the package's lintian check will skip`);
    return;
  }
  if (!existsSync(APT_GET)) {
    note(`${LINTIAN} is missing and there is no apt-get here: the package's lintian check will skip`);
    return;
  }
  note(`${LINTIAN} is missing: installing Debian's lintian package`);
  // The package lists may be fresh enough already; update only when the first try fails.
  const ok = aptGet(['install', '-y', '--no-install-recommends', 'lintian'], note) ||
    (aptGet(['update'], note) && aptGet(['install', '-y', '--no-install-recommends', 'lintian'], note));
  note(ok && existsSync(LINTIAN) ? `installed ${LINTIAN}` : "continuing without lintian: the package's lintian check will skip");
}

main();
