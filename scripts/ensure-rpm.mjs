#!/usr/bin/env node
/**
 * `npm pretest`: makes sure the RPM tools are at hand for the test that
 * builds the RPM, lints it and installs it on a booted systemd
 * (test/packaging/rpm.test.ts): Debian's `rpm` (rpmbuild), `rpmlint`, and
 * `dnf`, with which the test installs and swaps it as an operator would.
 *
 * When one is missing and we are root with apt-get, install it; otherwise
 * say why and carry on: this script never fails `npm test`, the parts of the
 * test that need it then skip with the reason. SKIP_RPM_INSTALL=1 turns the
 * installs off.
 */
import { existsSync } from 'node:fs';
import { ensureDebPackage } from './apt-get.mjs';

const note = (msg) => process.stderr.write(`ensure-rpm: ${msg}\n`);
const file = (path) => () => (existsSync(path) ? path : undefined);

for (const [pkg, path, consequence] of [
  ['rpm', '/usr/bin/rpmbuild', 'the RPM package test will skip'],
  ['rpmlint', '/usr/bin/rpmlint', "the RPM's rpmlint check will skip"],
  ['dnf', '/usr/bin/dnf', "the RPM's test under a running systemd will skip"],
]) {
  ensureDebPackage({ pkg, present: file(path), missing: `${path} is missing`, consequence, skipEnv: 'SKIP_RPM_INSTALL', note });
}
