/**
 * The Debian package's maintainer scripts (packaging/debian/), run with a
 * fake `systemctl` on the PATH that logs its calls, and their check for a
 * running systemd (`/run/systemd/system`) pointed at a temp directory: what
 * they do to the unit on install, upgrade and removal is what lets an
 * operator switch from the reference's package and back with a dispatcher
 * running at the end (packaging/debian/README.md).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const SCRIPTS = fileURLToPath(new URL('../../packaging/debian/', import.meta.url));
const UNIT = 'arvados-dispatch-cloud.service';

describe('Debian maintainer scripts', () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'adc-maint-'));
    mkdirSync(join(dir, 'bin'));
    // is-enabled answers from a file; any verb listed in FAIL fails, as systemctl does when a unit cannot start.
    writeFileSync(join(dir, 'bin', 'systemctl'), `#!/bin/sh
echo "$*" >> "${dir}/calls"
verb=$1
[ "$verb" = --no-block ] && verb=$2
case " $FAIL " in *" $verb "*) exit 1 ;; esac
if [ "$verb" = is-enabled ]; then [ -e "${dir}/enabled" ]; exit $?; fi
exit 0
`);
    chmodSync(join(dir, 'bin', 'systemctl'), 0o755);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** Runs `script ARGS` with systemd "running" or not; returns its exit status and the systemctl calls. */
  function run(script: string, args: string[], o: { systemd: boolean; enabled: boolean; fail?: string }): { status: number | null; calls: string[] } {
    rmSync(join(dir, 'calls'), { force: true });
    rmSync(join(dir, 'enabled'), { force: true });
    if (o.enabled) writeFileSync(join(dir, 'enabled'), '');
    const systemdDir = join(dir, o.systemd ? 'run-systemd' : 'absent');
    mkdirSync(join(dir, 'run-systemd'), { recursive: true });
    const copy = join(dir, script);
    writeFileSync(copy, readFileSync(join(SCRIPTS, script), 'utf8').replaceAll('/run/systemd/system', systemdDir));
    chmodSync(copy, 0o755);
    const r = spawnSync(copy, args, { encoding: 'utf8', env: { ...process.env, PATH: `${join(dir, 'bin')}:${process.env.PATH}`, FAIL: o.fail ?? '' } });
    const calls = existsSync(join(dir, 'calls')) ? readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n') : [];
    return { status: r.status, calls };
  }

  it('postinst configure on a fresh install or a switch (unit disabled): enables it and queues its start, not waiting for the daemon to be ready', () => {
    const r = run('postinst', ['configure', ''], { systemd: true, enabled: false });
    assert.equal(r.status, 0);
    assert.deepEqual(r.calls, ['daemon-reload', `is-enabled --quiet ${UNIT}`, `enable ${UNIT}`, `--no-block start ${UNIT}`]);
  });

  it('postinst configure on an upgrade (unit enabled): restarts it if running, and enables nothing', () => {
    const r = run('postinst', ['configure', '0.0.9-1'], { systemd: true, enabled: true });
    assert.equal(r.status, 0);
    assert.deepEqual(r.calls, ['daemon-reload', `is-enabled --quiet ${UNIT}`, `--no-block try-restart ${UNIT}`]);
  });

  it('postinst succeeds when the unit cannot start (no config yet)', () => {
    const r = run('postinst', ['configure', ''], { systemd: true, enabled: false, fail: 'start' });
    assert.equal(r.status, 0);
    assert.ok(r.calls.includes(`--no-block start ${UNIT}`));
  });

  it('prerm remove (also when the reference\'s package replaces ours): stops and disables the unit', () => {
    const r = run('prerm', ['remove'], { systemd: true, enabled: true });
    assert.equal(r.status, 0);
    assert.deepEqual(r.calls, [`stop ${UNIT}`, `disable ${UNIT}`]);
  });

  it('prerm upgrade leaves the unit alone (postinst restarts it)', () => {
    const r = run('prerm', ['upgrade', '0.2.0-1'], { systemd: true, enabled: true });
    assert.equal(r.status, 0);
    assert.deepEqual(r.calls, []);
  });

  it('postrm remove reloads systemd; purge does nothing more', () => {
    assert.deepEqual(run('postrm', ['remove'], { systemd: true, enabled: false }).calls, ['daemon-reload']);
    assert.deepEqual(run('postrm', ['purge'], { systemd: true, enabled: false }).calls, []);
  });

  it('without a running systemd (a container, a chroot), calls no systemctl', () => {
    for (const [script, args] of [['postinst', ['configure', '']], ['prerm', ['remove']], ['postrm', ['remove']]] as const) {
      const r = run(script, [...args], { systemd: false, enabled: false });
      assert.equal(r.status, 0, script);
      assert.deepEqual(r.calls, [], script);
    }
  });
});
