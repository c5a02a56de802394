/**
 * `apt-get ARGS` for the pretest scripts that install Debian packages the
 * tests need: output shown, a time limit per step (a stuck mirror must not
 * hang CI forever), and a failure told through `note` rather than thrown.
 */
import { spawnSync } from 'node:child_process';

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
