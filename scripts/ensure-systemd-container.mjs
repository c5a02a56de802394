#!/usr/bin/env node
/**
 * `npm pretest`: makes sure Debian's `systemd-nspawn` is at hand for the test
 * that installs the Debian package on a booted systemd and runs the daemon as
 * its unit (test/packaging/deb.test.ts, "under a running systemd"; the
 * machine is this host's own tree under a throwaway overlay:
 * test/fixtures/nspawn.ts).
 *
 * When it is missing and we are root with apt-get, install
 * `systemd-container`; otherwise say why and carry on: this script never
 * fails `npm test`, the test then skips with the reason.
 * SKIP_SYSTEMD_CONTAINER_INSTALL=1 turns the install off.
 */
import { existsSync } from 'node:fs';
import { ensureDebPackage } from './apt-get.mjs';

const NSPAWN = '/usr/bin/systemd-nspawn';

ensureDebPackage({
  pkg: 'systemd-container',
  present: () => (existsSync(NSPAWN) ? NSPAWN : undefined),
  missing: `${NSPAWN} is missing`,
  consequence: 'the package\'s test under a running systemd will skip',
  skipEnv: 'SKIP_SYSTEMD_CONTAINER_INSTALL',
  note: (msg) => process.stderr.write(`ensure-systemd-container: ${msg}\n`),
});
