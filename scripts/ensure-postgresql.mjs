#!/usr/bin/env node
/**
 * `npm pretest`: makes sure a PostgreSQL server is installed, for the tests
 * of the dispatch lock (test/dblock/, test/e2e/dispatch-lock.test.ts), which
 * start a throwaway server of their own (test/fixtures/postgres.ts).
 *
 * When no `/usr/lib/postgresql/<version>/bin/initdb` exists and we are root
 * with apt-get, installs Debian's `postgresql` package (after `apt-get
 * update`). Otherwise it says why and carries on: this script never stops
 * `npm test`; the lock tests then fail, each saying that no server could be
 * started and why.
 *
 * Environment: POSTGRES_BINDIR names a directory holding initdb and pg_ctl
 * (the fixture reads it too); SKIP_POSTGRESQL_INSTALL=1 turns the install off.
 */
import { APT_GET, aptGet } from './apt-get.mjs';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const DEBIAN_ROOT = '/usr/lib/postgresql';

function note(msg) {
  process.stderr.write(`ensure-postgresql: ${msg}\n`);
}

/** The bin directory of an installed server: POSTGRES_BINDIR, or Debian's newest. */
function findBinDir() {
  if (process.env.POSTGRES_BINDIR) {
    return existsSync(join(process.env.POSTGRES_BINDIR, 'initdb')) ? process.env.POSTGRES_BINDIR : undefined;
  }
  let versions = [];
  try {
    versions = readdirSync(DEBIAN_ROOT);
  } catch {
    return undefined;
  }
  const found = versions
    .filter((v) => existsSync(join(DEBIAN_ROOT, v, 'bin', 'initdb')))
    .sort((a, b) => Number(b) - Number(a));
  return found.length > 0 ? join(DEBIAN_ROOT, found[0], 'bin') : undefined;
}

function run(args) {
  return aptGet(args, note);
}

function main() {
  const found = findBinDir();
  if (found) {
    note(`PostgreSQL server found in ${found}`);
    return;
  }
  const missing = process.env.POSTGRES_BINDIR
    ? `POSTGRES_BINDIR=${process.env.POSTGRES_BINDIR} holds no initdb`
    : `no ${DEBIAN_ROOT}/<version>/bin/initdb`;
  const consequence = 'the dispatch lock tests will fail (they need a real PostgreSQL server)';
  if (process.env.SKIP_POSTGRESQL_INSTALL === '1') {
    note(`${missing} and SKIP_POSTGRESQL_INSTALL=1: ${consequence}`);
    return;
  }
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    note(`${missing} and we are not root, so it cannot be installed: run \`apt-get install -y postgresql\` as root, or ${consequence}`);
    return;
  }
  if (!existsSync(APT_GET)) {
    note(`${missing} and there is no apt-get here: ${consequence}`);
    return;
  }
  note(`${missing}: installing Debian's postgresql package`);
  if (!run(['update']) || !run(['install', '-y', '--no-install-recommends', 'postgresql'])) {
    note(`continuing without PostgreSQL: ${consequence}`);
    return;
  }
  const after = findBinDir();
  note(after ? `installed; server binaries in ${after}` : `installed, but still ${missing}: ${consequence}`);
}

main();
