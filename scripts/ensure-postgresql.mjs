#!/usr/bin/env node
/**
 * `npm pretest`: makes sure a PostgreSQL server is installed, for the tests
 * of the dispatch lock (test/dblock/, test/e2e/dispatch-lock.test.ts), which
 * start a throwaway server of their own (test/fixtures/postgres.ts).
 *
 * When no `/usr/lib/postgresql/<version>/bin/initdb` exists and we are root
 * with apt-get, installs Debian's `postgresql` package. Otherwise it says why and carries on: this script never stops
 * `npm test`; the lock tests then fail, each saying that no server could be
 * started and why.
 *
 * Environment: POSTGRES_BINDIR names a directory holding initdb and pg_ctl
 * (the fixture reads it too); SKIP_POSTGRESQL_INSTALL=1 turns the install off.
 */
import { ensureDebPackage } from './apt-get.mjs';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const DEBIAN_ROOT = '/usr/lib/postgresql';

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

const note = (msg) => process.stderr.write(`ensure-postgresql: ${msg}\n`);
const found = findBinDir();
if (found) note(`PostgreSQL server found in ${found}`);
else
  ensureDebPackage({
    pkg: 'postgresql',
    present: findBinDir,
    missing: process.env.POSTGRES_BINDIR ? `POSTGRES_BINDIR=${process.env.POSTGRES_BINDIR} holds no initdb` : `no ${DEBIAN_ROOT}/<version>/bin/initdb`,
    consequence: 'the dispatch lock tests will fail (they need a real PostgreSQL server)',
    skipEnv: 'SKIP_POSTGRESQL_INSTALL',
    note,
  });
