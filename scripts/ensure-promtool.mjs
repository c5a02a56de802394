#!/usr/bin/env node
/**
 * `npm pretest`: makes sure Prometheus's `promtool` is at hand for the test
 * that checks our /metrics output with it (test/http/promtool.test.ts).
 *
 * Debian ships promtool only inside its `prometheus` package, whose
 * installation would also start a Prometheus server on hosts with systemd.
 * So the package is downloaded (`apt-get download`, after `apt-get update`
 * when we are root and the first try fails) and only its files are unpacked
 * (`dpkg-deb -x`) under node_modules/.cache/promtool: nothing is installed
 * and nothing starts. The test looks there (PROMTOOL_PATH).
 *
 * When promtool is already on the PATH, or `PROMTOOL` names one, nothing is
 * done. This script never stops `npm test`: without promtool the test skips
 * with the reason. SKIP_PROMTOOL_INSTALL=1 turns the download off.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { APT_GET, aptGet } from './apt-get.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
/** Where the unpacked package's promtool ends up; test/http/promtool.test.ts reads the same path. */
export const PROMTOOL_PATH = join(ROOT, 'node_modules', '.cache', 'promtool', 'usr', 'bin', 'promtool');

function note(msg) {
  process.stderr.write(`ensure-promtool: ${msg}\n`);
}

function runs(bin) {
  return !spawnSync(bin, ['--version'], { stdio: 'ignore' }).error;
}

function download(dir) {
  const r = spawnSync(APT_GET, ['download', 'prometheus'], { cwd: dir, stdio: 'inherit', timeout: 10 * 60 * 1000, killSignal: 'SIGKILL' });
  return r.status === 0 && readdirSync(dir).find((f) => f.endsWith('.deb'));
}

function main() {
  if (runs(process.env.PROMTOOL || 'promtool') || existsSync(PROMTOOL_PATH)) return;
  if (process.env.SKIP_PROMTOOL_INSTALL === '1') {
    note('promtool is missing and SKIP_PROMTOOL_INSTALL=1: the promtool test will skip');
    return;
  }
  if (!existsSync(APT_GET)) {
    note('promtool is missing and there is no apt-get here: the promtool test will skip');
    return;
  }
  const dir = mkdtempSync(join(tmpdir(), 'promtool-deb-'));
  try {
    note("promtool is missing: unpacking it from Debian's prometheus package");
    let deb = download(dir);
    if (!deb && typeof process.getuid === 'function' && process.getuid() === 0 && aptGet(['update'], note)) deb = download(dir);
    if (!deb) {
      note('could not download the prometheus package: the promtool test will skip');
      return;
    }
    const dest = join(ROOT, 'node_modules', '.cache', 'promtool');
    mkdirSync(dest, { recursive: true });
    const x = spawnSync('dpkg-deb', ['-x', join(dir, deb), dest], { stdio: 'inherit' });
    note(x.status === 0 && existsSync(PROMTOOL_PATH) ? `unpacked ${PROMTOOL_PATH}` : 'unpacking failed: the promtool test will skip');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
