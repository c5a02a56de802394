import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import type { Cluster, InstanceType } from '../../src/config/types.js';
import {
  apiHostFor,
  crunchRunConfig,
  crunchRunDetachCommand,
  crunchRunKillCommand,
  crunchRunListCommand,
  deployedRunnerPath,
  initCommandForSecret,
  instanceSecretCommand,
  parseCommandLine,
  parseInitCommandSecret,
  parseRunnerInstallCommand,
  runnerInstallCommand,
  runnerMd5Command,
  runnerMd5Expected,
  ShellParseError,
  shellQuote,
  shellWord,
  withSudo,
} from '../../src/worker/runner.js';

const AWKWARD = [
  '',
  ' ',
  "'",
  "''",
  "it's",
  'a b  c',
  '"double"',
  '\\',
  'back\\slash\\',
  '$HOME',
  '`date`',
  '$(rm -rf /)',
  'semi;colon && pipe | amp &',
  'new\nline',
  'tab\there',
  '*?[glob]',
  '~tilde',
  'unicode: é ✓ 漢字',
  "'\\''",
  '--runtime-engine=docker',
  'VAR=value',
];

/** A deterministic pseudo-random string over characters the shell cares about. */
function randomAwkward(seed: number): string {
  const alphabet = `ab '"\\$\`;&|<>()\n\t*?~=-é`;
  let s = '';
  let x = seed;
  const len = seed % 17;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    s += alphabet[x % alphabet.length];
  }
  return s;
}

describe('worker/runner: quoting', () => {
  it('shellQuote single-quotes and escapes quotes as the reference does', () => {
    assert.equal(shellQuote('abc'), `'abc'`);
    assert.equal(shellQuote("it's"), `'it'\\''s'`);
    assert.equal(shellQuote(''), `''`);
  });

  it('round-trips awkward strings through shellQuote and parseCommandLine', () => {
    for (const s of AWKWARD) {
      assert.deepEqual(parseCommandLine(shellQuote(s)).argv, [s], JSON.stringify(s));
    }
    for (let seed = 1; seed < 300; seed++) {
      const words = [randomAwkward(seed), randomAwkward(seed * 7 + 3), randomAwkward(seed * 13 + 1)];
      const line = ['cmd', ...words.map(shellQuote)].join(' ');
      assert.deepEqual(parseCommandLine(line).argv, ['cmd', ...words], JSON.stringify(line));
    }
  });

  it('shellWord leaves plain words bare and quotes the rest', () => {
    assert.equal(shellWord('zzzzz-dz642-012345678901234'), 'zzzzz-dz642-012345678901234');
    assert.equal(shellWord('/tmp/arvados-crunch-run/crunch-run~0123abcd'), '/tmp/arvados-crunch-run/crunch-run~0123abcd');
    assert.equal(shellWord('~root'), `'~root'`);
    assert.equal(shellWord('a b'), `'a b'`);
    for (const s of AWKWARD) assert.deepEqual(parseCommandLine(`x ${shellWord(s)}`).argv, ['x', s]);
  });

  it('withSudo prefixes sudo unless the user is root', () => {
    assert.equal(withSudo('crunch-run --list', 'crunch'), 'sudo crunch-run --list');
    assert.equal(withSudo('crunch-run --list', 'root'), 'crunch-run --list');
  });
});

describe('worker/runner: parseCommandLine', () => {
  it('strips sudo and env prefixes, before or after sudo', () => {
    assert.deepEqual(parseCommandLine(`A='1' sudo B='two words' crunch-run --list`), {
      argv: ['crunch-run', '--list'],
      env: { A: '1', B: 'two words' },
      sudo: true,
    });
    assert.deepEqual(parseCommandLine('sudo -n true'), { argv: ['true'], env: {}, sudo: true });
    assert.deepEqual(parseCommandLine(`X="a \\"b\\"" echo X=y`), { argv: ['echo', 'X=y'], env: { X: 'a "b"' }, sudo: false });
  });

  it('keeps quoted assignments and later NAME=value words as arguments', () => {
    assert.deepEqual(parseCommandLine(`'A=1' cmd B=2`).argv, ['A=1', 'cmd', 'B=2']);
  });

  it('handles concatenated quoting and backslashes', () => {
    assert.deepEqual(parseCommandLine(`a'b'"c"\\ d e`).argv, ['abc d', 'e']);
  });

  it('refuses shell syntax it does not emulate', () => {
    for (const bad of ['a; b', 'a && b', 'a | b', 'a > f', 'echo $HOME', 'echo `x`', "echo 'open", 'echo "open', 'echo "$x"', 'x\\']) {
      assert.throws(() => parseCommandLine(bad), ShellParseError, bad);
    }
  });
});

describe('worker/runner: crunch-run commands', () => {
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
    assert.equal(crunchRunKillCommand('crunch-run', 'zzzzz-dz642-000000000000001'), 'crunch-run --kill 15 zzzzz-dz642-000000000000001');
    assert.equal(crunchRunKillCommand('/usr/bin/arvados-server crunch-run', 'u', 9), '/usr/bin/arvados-server crunch-run --kill 9 u');
    assert.throws(() => crunchRunKillCommand('crunch-run', 'u', -1), RangeError);
  });

  it('builds the crunch-run config JSON', () => {
    const type: InstanceType = {
      Name: 'small',
      ProviderType: 'm5.large',
      VCPUs: 2,
      RAM: 8 << 30,
      Scratch: 0,
      IncludedScratch: 0,
      AddedScratch: 0,
      Price: 0.1,
      Preemptible: true,
      GPU: { Stack: '', DriverVersion: '', HardwareTarget: '', DeviceCount: 0, VRAM: 0 },
    };
    const cluster = {
      SystemRootToken: 'roottoken-xyz',
      Services: { Controller: { ExternalURL: 'https://ctrl.example:8443/' } },
      TLS: { Insecure: true },
      Containers: { LocalKeepBlobBuffersPerVCPU: 1, CloudVMs: { Driver: 'ec2' } },
    } as unknown as Cluster;
    const cfg = crunchRunConfig({ cluster, instanceType: type, instanceAddress: '10.0.0.5:2222', uuid: 'zzzzz-dz642-000000000000001' });
    assert.equal(cfg.Env.ARVADOS_API_HOST, 'ctrl.example:8443');
    assert.equal(cfg.Env.ARVADOS_API_TOKEN, 'roottoken-xyz');
    assert.equal(cfg.Env.ARVADOS_API_HOST_INSECURE, '1');
    assert.equal(cfg.Env.GatewayAddress, '10.0.0.5:0');
    assert.equal(cfg.Env.GatewayAuthSecret, createHmac('sha256', 'roottoken-xyz').update('zzzzz-dz642-000000000000001').digest('hex'));
    assert.deepEqual(JSON.parse(cfg.Env.InstanceType), type);
    assert.equal(cfg.KeepBuffers, 2);
    assert.equal(cfg.EC2SpotCheck, true);
    assert.equal(crunchRunConfig({ cluster, instanceType: type, instanceAddress: '::1', uuid: 'u' }).Env.GatewayAddress, '[::1]:0');
  });

  it('passes an http controller URL whole, so crunch-run can reach it', () => {
    assert.equal(apiHostFor('http://127.0.0.1:4567'), 'http://127.0.0.1:4567');
    assert.equal(apiHostFor('https://ctrl.example'), 'ctrl.example');
  });
});

describe('worker/runner: runner deployment and instance secret', () => {
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
