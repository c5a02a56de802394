/**
 * `apt-get ARGS` for the pretest scripts that install Debian packages the
 * tests need: output shown, a time limit per step (a stuck mirror must not
 * hang CI forever), and a failure told through `note` rather than thrown.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';

export const APT_GET = '/usr/bin/apt-get';
const STEP_TIMEOUT_MS = 10 * 60 * 1000;

/** Runs apt-get; true when it exited 0. */
export function aptGet(args, note) {
  note(`running: apt-get ${args.join(' ')}`);
  const r = spawnSync(APT_GET, args, {
    stdio: 'inherit',
    timeout: STEP_TIMEOUT_MS,
    killSignal: 'SIGKILL',
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
  });
  if (r.error) {
    note(`apt-get ${args[0]} failed: ${r.error.message}`);
    return false;
  }
  if (r.status !== 0) {
    note(`apt-get ${args[0]} exited with ${r.status ?? `signal ${r.signal}`}`);
    return false;
  }
  return true;
}

/**
 * Installs Debian's package `pkg` when `present()` finds nothing and we are
 * root with apt-get (trying `apt-get update` only when the first install
 * fails: the package lists may be fresh enough); otherwise says why, through
 * `note`, and returns. Never throws: the tests that need the package then
 * skip or fail, each saying why (`consequence`).
 *
 * @param {object} o
 * @param {string} o.pkg the Debian package
 * @param {() => string | undefined} o.present what was found (a path), or undefined
 * @param {string} o.missing what is missing, as a clause ("/usr/bin/lintian is missing")
 * @param {string} o.consequence what follows without it ("the package's lintian check will skip")
 * @param {string} o.skipEnv the environment variable that turns the install off when "1"
 * @param {(msg: string) => void} o.note
 */
export function ensureDebPackage({ pkg, present, missing, consequence, skipEnv, note }) {
  if (present()) return;
  if (process.env[skipEnv] === '1') {
    note(`${missing} and ${skipEnv}=1: ${consequence}`);
    return;
  }
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) {
    note(`${missing} and we are not root, so it cannot be installed: run \`apt-get install -y ${pkg}\` as root, or ${consequence}`);
    return;
  }
  if (!existsSync(APT_GET)) {
    note(`${missing} and there is no apt-get here: ${consequence}`);
    return;
  }
  note(`${missing}: installing Debian's ${pkg} package`);
  const install = ['install', '-y', '--no-install-recommends', pkg];
  if (!aptGet(install, note) && !(aptGet(['update'], note) && aptGet(install, note))) {
    note(`continuing without ${pkg}: ${consequence}`);
    return;
  }
  const found = present();
  note(found ? `installed: ${found}` : `installed, but still ${missing}: ${consequence}`);
}
