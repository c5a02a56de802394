import assert from 'node:assert/strict';
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
