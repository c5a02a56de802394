import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, chownSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  crunchRunDetachCommand,
  crunchRunKillCommand,
  crunchRunListCommand,
  initCommandForSecret,
  instanceInitCommand,
  instanceSecretCommand,
  parseInitCommandSecret,
  parseRunnerInstallCommand,
  priceHistoryJSON,
  runnerInstallCommand,
  runnerMd5Command,
  runnerMd5Expected,
  withSudo,
} from '../../src/arvados/crunch-run.js';
import { parseCommandLine } from '../../src/ssh/shell-words.js';
import { shellQuote } from '../../src/ssh/util.js';
import { deployedRunnerPath } from '../../src/worker/runner.js';

describe('arvados/crunch-run: commands', () => {
  it('builds detach in the reference form', () => {
    const cmd = crunchRunDetachCommand({
      crunchRunCommand: 'crunch-run',
      runtimeEngine: 'docker',
      argumentsList: ['--cgroup-parent-subsystem=cpuset', "it's"],
      uuid: 'zzzzz-dz642-000000000000001',
    });
    assert.equal(cmd, `crunch-run --detach --stdin-config '--runtime-engine=docker' '--cgroup-parent-subsystem=cpuset' 'it'\\''s' 'zzzzz-dz642-000000000000001'`);
    assert.deepEqual(parseCommandLine(withSudo(cmd, 'crunch')).argv, [
      'crunch-run',
      '--detach',
      '--stdin-config',
      '--runtime-engine=docker',
      '--cgroup-parent-subsystem=cpuset',
      "it's",
      'zzzzz-dz642-000000000000001',
    ]);
  });

  it('builds list and kill as the reference does', () => {
    assert.equal(crunchRunListCommand('crunch-run'), 'crunch-run --list');
    assert.equal(crunchRunListCommand('crunch-run', { stdinPrices: true }), 'crunch-run --list --stdin-prices');
    assert.equal(crunchRunKillCommand('crunch-run', 'zzzzz-dz642-000000000000001'), 'crunch-run --kill 15 zzzzz-dz642-000000000000001');
    assert.equal(crunchRunKillCommand('/usr/bin/arvados-server crunch-run', 'u', 9), '/usr/bin/arvados-server crunch-run --kill 9 u');
    assert.throws(() => crunchRunKillCommand('crunch-run', 'u', -1), RangeError);
  });
});

describe('arvados/crunch-run: runner deployment and instance secret', () => {
  const path = deployedRunnerPath('/tmp/arvados-crunch-run/', '0123456789abcdef0123456789abcdef');

  it('names the deployed runner by its md5', () => {
    assert.equal(path, '/tmp/arvados-crunch-run/crunch-run~0123456789abcdef0123456789abcdef');
    for (const dir of ['/', '//', '']) {
      assert.equal(deployedRunnerPath(dir, '0123456789abcdef0123456789abcdef'), '/crunch-run~0123456789abcdef0123456789abcdef', `DeployRunnerDirectory ${JSON.stringify(dir)}`);
    }
    assert.equal(runnerMd5Command(path), `md5sum ${path}`);
    assert.equal(runnerMd5Expected('0123', path), `0123  ${path}\n`);
  });

  it('install command round-trips through the VM-side parser, with and without sudo', () => {
    assert.equal(parseRunnerInstallCommand(runnerInstallCommand(path, 'crunch')), path);
    assert.equal(parseRunnerInstallCommand(runnerInstallCommand(path, 'root')), path);
    assert.match(runnerInstallCommand(path, 'crunch'), /^sudo sh -c '/);
    const odd = "/opt/it's here/crunch-run~00";
    assert.equal(parseRunnerInstallCommand(runnerInstallCommand(odd, 'crunch')), odd);
    assert.equal(parseRunnerInstallCommand('md5sum /x'), undefined);
  });

  describe('the install script, run by /bin/sh', () => {
    let base: string;
    const binary = 'the runner binary\n';
    /** Runs the install script for `dir/crunch-run~00` as this user (the `root` form: no sudo). */
    const install = (dir: string) => spawnSync('/bin/sh', ['-c', runnerInstallCommand(`${dir}/crunch-run~00`, 'root')], { input: binary, encoding: 'utf8' });
    beforeEach(() => {
      base = mkdtempSync(join(tmpdir(), 'runner-install-'));
    });
    afterEach(() => rmSync(base, { recursive: true, force: true }));

    it('installs into a new directory, mode 0755, leaving no temporary file', () => {
      const dir = join(base, 'a', 'arvados-crunch-run');
      const r = install(dir);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(readFileSync(join(dir, 'crunch-run~00'), 'utf8'), binary);
      assert.equal(statSync(join(dir, 'crunch-run~00')).mode & 0o777, 0o755);
      assert.equal(statSync(dir).mode & 0o777, 0o755);
      assert.deepEqual(readdirSync(dir), ['crunch-run~00']);
      // Again over the first copy (the md5 differed): replaced in place.
      assert.equal(install(dir).status, 0);
      assert.deepEqual(readdirSync(dir), ['crunch-run~00']);
    });

    it('makes an existing directory of its own mode 0755, so the login user’s md5sum (run without sudo) can read the runner', () => {
      const dir = join(base, 'arvados-crunch-run');
      mkdirSync(dir);
      chmodSync(dir, 0o700);
      const r = install(dir);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(statSync(dir).mode & 0o777, 0o755);
      assert.equal(statSync(join(dir, 'crunch-run~00')).mode & 0o777, 0o755);
    });

    it('refuses a directory that is a symlink, writing nothing where it points and leaving its mode alone', () => {
      const target = join(base, 'elsewhere');
      mkdirSync(target);
      chmodSync(target, 0o700);
      const link = join(base, 'arvados-crunch-run');
      symlinkSync(target, link);
      // `link/` too (DeployRunnerDirectory with a trailing slash): `[ -L link/ ]` alone would follow it.
      for (const dir of [link, `${link}/`]) {
        const r = install(dir);
        assert.notEqual(r.status, 0, dir);
        assert.match(r.stderr, /refusing to install crunch-run: .* is a symlink, not a directory, or not owned by/);
      }
      assert.deepEqual(readdirSync(target), []);
      assert.equal(statSync(target).mode & 0o777, 0o700);
      assert.ok(lstatSync(link).isSymbolicLink());
    });

    it('refuses a directory another user owns (as root only: others cannot make one)', function () {
      if (process.getuid?.() !== 0) this.skip();
      const dir = join(base, 'arvados-crunch-run');
      mkdirSync(dir);
      chmodSync(dir, 0o777);
      chownSync(dir, 65534, 65534);
      const r = install(dir);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, /not owned by root/);
      assert.deepEqual(readdirSync(dir), []);
      assert.equal(statSync(dir).mode & 0o777, 0o777, 'not chmod-ed either');
    });
  });

  it("also parses the reference's in-place install command", () => {
    const ref = `set -e; dstdir="/tmp/arvados-crunch-run/"; dstfile="${path}"; mkdir -p "$dstdir"; touch "$dstfile"; chmod 0755 "$dstdir" "$dstfile"; cat >"$dstfile"`;
    assert.equal(parseRunnerInstallCommand(`sudo sh -c ${shellQuote(ref)}`), path);
    assert.equal(parseRunnerInstallCommand(ref), path);
  });

  it('secret line precedes InstanceInitCommand, as in the reference pool', () => {
    const secret = 'ab'.repeat(20);
    assert.equal(instanceInitCommand(secret, 'exit 0'), `${initCommandForSecret(secret)}\nexit 0`);
    assert.equal(instanceInitCommand(secret, ''), `${initCommandForSecret(secret)}\n`);
  });

  it('writes and reads the instance secret as the reference does', () => {
    const secret = '0123456789abcdef0123456789abcdef01234567';
    const init = initCommandForSecret(secret);
    assert.equal(init, `umask 0177 && echo -n "${secret}" >/var/run/arvados-instance-secret`);
    assert.equal(parseInitCommandSecret(`#!/bin/sh\nset -e\n${init}\necho done`), secret);
    assert.equal(parseInitCommandSecret('echo hello'), undefined);
    assert.equal(instanceSecretCommand(), 'cat /var/run/arvados-instance-secret');
    assert.throws(() => initCommandForSecret('"; rm -rf /'));
  });
});

describe('arvados/crunch-run: price history', () => {
  it("writes it as the reference's JSON of []cloud.InstancePrice, times as Go writes them", () => {
    const t = Date.UTC(2026, 0, 2, 3, 4, 5);
    assert.equal(
      priceHistoryJSON([
        { startTime: t, price: 0.0312 },
        { startTime: t + 500, price: 0.04 },
      ]),
      '[{"StartTime":"2026-01-02T03:04:05Z","Price":0.0312},{"StartTime":"2026-01-02T03:04:05.5Z","Price":0.04}]',
    );
  });
});
