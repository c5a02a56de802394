/**
 * Loading the cluster config: a good config compiled with units resolved
 * and defaults filled in (from text and from a file), choosing the cluster,
 * DispatchPrivateKey from a file:// URL, and what the daemon needs to start.
 * What a bad config reports is load-bad-config.test.ts.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { daemonConfigProblems, dispatcherConfigErrors, loadConfigFile } from '../../src/config/load.js';
import { errorsOf, MGMT_TOKEN, ROOT_TOKEN, withCloudVMs, loadUnlocated as loadConfigText } from './load-helpers.js';

const GiB = 2 ** 30;

/** A complete, valid config with one cluster; tests change pieces of it. */
const GOOD = `
Clusters:
  zzzzz:
    SystemRootToken: ${ROOT_TOKEN}
    ManagementToken: ${MGMT_TOKEN}
    Services:
      Controller:
        ExternalURL: https://zzzzz.example.com
      Websocket:
        ExternalURL: wss://ws.zzzzz.example.com/websocket
      DispatchCloud:
        InternalURLs:
          "http://localhost:9006": {}
      Keepstore:
        InternalURLs:
          "http://keep0:25107": {}
    API:
      MaxItemsPerResponse: 1000
    Containers:
      DispatchPrivateKey: |
        -----BEGIN OPENSSH PRIVATE KEY-----
        AAAA
        -----END OPENSSH PRIVATE KEY-----
      SLURM:
        PrioritySpread: 0
      ReserveExtraRAM: 1GiB
      CrunchRunArgumentsList: ["--cgroup-parent-subsystem=memory"]
      CloudVMs:
        Enable: yes
        Driver: ec2
        TimeoutIdle: 2m30s
        SSHPort: "2222"
        MaxInstances: 12
        ResourceTags:
          Owner: ops
        DriverParameters:
          Region: us-east-1
          SecurityGroupIDs:
            sg-123: {}
    InstanceTypes:
      m5.large:
        VCPUs: 2
        RAM: 8GiB
        IncludedScratch: 0
        AddedScratch: 50GB
        Price: 0.096
      g4dn:
        ProviderType: g4dn.xlarge
        VCPUs: 4
        RAM: 16GiB
        IncludedScratch: 125GB
        Price: 0.526
        GPU:
          Stack: cuda
          DriverVersion: "12.0"
          HardwareTarget: "7.5"
          DeviceCount: 1
          VRAM: 16GiB
`;

describe('config loading', () => {
  describe('a good config', () => {
    it('compiles every value, with units resolved and defaults filled in', () => {
      const { cluster, warnings } = loadConfigText(GOOD);
      assert.deepEqual(warnings, []);
      assert.equal(cluster.ClusterID, 'zzzzz');
      assert.equal(cluster.SystemRootToken, ROOT_TOKEN);
      assert.equal(cluster.ManagementToken, MGMT_TOKEN);
      assert.equal(cluster.Services.Controller.ExternalURL, 'https://zzzzz.example.com');
      assert.equal(cluster.Services.Websocket.ExternalURL, 'wss://ws.zzzzz.example.com/websocket');
      assert.deepEqual(cluster.Services.DispatchCloud.InternalURLs, ['http://localhost:9006']);
      assert.equal(cluster.TLS.Insecure, false);
      assert.equal(cluster.SystemLogs.LogLevel, 'info');

      const c = cluster.Containers;
      assert.match(c.DispatchPrivateKey, /^-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n/);
      assert.equal(c.ReserveExtraRAM, GiB);
      assert.equal(c.StaleLockTimeout, 60_000);
      assert.deepEqual(c.CrunchRunArgumentsList, ['--cgroup-parent-subsystem=memory']);
      assert.equal(c.MaxDispatchAttempts, 10);

      const vms = c.CloudVMs;
      assert.equal(vms.Enable, true, 'YAML 1.1 "yes" is true, as in Arvados');
      assert.equal(vms.TimeoutIdle, 150_000);
      assert.equal(vms.SSHPort, '2222');
      assert.equal(vms.MaxInstances, 12);
      assert.equal(vms.PollInterval, 10_000);
      assert.deepEqual(vms.ResourceTags, { Owner: 'ops' });
      assert.deepEqual(vms.DriverParameters, { Region: 'us-east-1', SecurityGroupIDs: { 'sg-123': {} } });

      assert.deepEqual(Object.keys(cluster.InstanceTypes), ['m5.large', 'g4dn']);
      assert.deepEqual(cluster.InstanceTypes['m5.large'], {
        Name: 'm5.large',
        ProviderType: 'm5.large',
        VCPUs: 2,
        RAM: 8 * GiB,
        Scratch: 50e9,
        IncludedScratch: 0,
        AddedScratch: 50e9,
        Price: 0.096,
        Preemptible: false,
        GPU: { Stack: '', DriverVersion: '', HardwareTarget: '', DeviceCount: 0, VRAM: 0 },
      });
      const gpu = cluster.InstanceTypes.g4dn;
      assert.equal(gpu.ProviderType, 'g4dn.xlarge');
      assert.deepEqual(gpu.GPU, { Stack: 'cuda', DriverVersion: '12.0', HardwareTarget: '7.5', DeviceCount: 1, VRAM: 16 * GiB });
      assert.deepEqual(daemonConfigProblems(cluster), []);
    });

    it('loads from a file', () => {
      const dir = mkdtempSync(join(tmpdir(), 'config-test-'));
      try {
        writeFileSync(join(dir, 'config.yml'), GOOD);
        assert.equal(loadConfigFile(join(dir, 'config.yml')).cluster.ClusterID, 'zzzzz');
      } finally {
        rmSync(dir, { recursive: true });
      }
    });

    it('takes unquoted scalars as written where a string is expected, with a warning for each, since the reference refuses them', () => {
      const text = 'Clusters:\n  zzzzz:\n    Containers:\n      CrunchRunArgumentsList: [--x, 05, 1.50, yes]\n      CloudVMs:\n        ResourceTags: {A: 1.0, B: off}\n        ImageID: 0123\n';
      const { cluster, warnings } = loadConfigText(text);
      assert.deepEqual(cluster.Containers.CrunchRunArgumentsList, ['--x', '05', '1.50', 'yes']);
      assert.deepEqual(cluster.Containers.CloudVMs.ResourceTags, { A: '1.0', B: 'off' });
      assert.equal(cluster.Containers.CloudVMs.ImageID, '0123');
      const refused = warnings.filter((w) => w.includes('the reference dispatcher refuses this'));
      assert.deepEqual(
        refused.map((w) => w.slice(0, w.indexOf(':'))),
        [
          'Clusters.zzzzz.Containers.CrunchRunArgumentsList.1',
          'Clusters.zzzzz.Containers.CrunchRunArgumentsList.2',
          'Clusters.zzzzz.Containers.CrunchRunArgumentsList.3',
          'Clusters.zzzzz.Containers.CloudVMs.ImageID',
          'Clusters.zzzzz.Containers.CloudVMs.ResourceTags.A',
          'Clusters.zzzzz.Containers.CloudVMs.ResourceTags.B',
        ],
      );
    });

    it('treats null values as absent, as Arvados does', () => {
      const { cluster } = loadConfigText(withCloudVMs('        TimeoutIdle: ~\n        ResourceTags:\n'));
      assert.equal(cluster.Containers.CloudVMs.TimeoutIdle, 60_000);
      assert.deepEqual(cluster.Containers.CloudVMs.ResourceTags, {});
    });
  });

  describe('clusters', () => {
    const TWO = 'Clusters:\n  aaaaa:\n    SystemRootToken: t1\n  bbbbb:\n    SystemRootToken: t2\n';

    it('needs --cluster when the file defines several, and lists them', () => {
      assert.deepEqual(errorsOf(() => loadConfigText(TWO)), ['Clusters: the config file defines several clusters (aaaaa, bbbbb): choose one with --cluster']);
    });

    it('compiles the one asked for (only that one)', () => {
      const text = TWO + '  ccccc:\n    TLS: {Insecure: bad}\n';
      assert.equal(loadConfigText(text, { clusterId: 'bbbbb' }).cluster.SystemRootToken, 't2');
    });

    it('fails when the one asked for is not there', () => {
      assert.deepEqual(errorsOf(() => loadConfigText(TWO, { clusterId: 'ccccc' })), ['Clusters.ccccc: not defined in this config file (it defines aaaaa, bbbbb)']);
    });

    it('fails when there is none', () => {
      assert.deepEqual(errorsOf(() => loadConfigText('Clusters: {}\n')), ['Clusters: config does not define any clusters']);
      assert.deepEqual(errorsOf(() => loadConfigText('')), ['config: expected a map with a Clusters key at the top level']);
    });
  });

  describe('DispatchPrivateKey from file://', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'config-key-'));
    });
    afterEach(() => rmSync(dir, { recursive: true }));

    it('reads the file at load time', () => {
      const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n';
      writeFileSync(join(dir, 'key'), pem);
      const { cluster } = loadConfigText(`Clusters:\n  zzzzz:\n    Containers:\n      DispatchPrivateKey: file://${dir}/key\n`);
      assert.equal(cluster.Containers.DispatchPrivateKey, pem);
    });

    it('takes the path after file:// as written, as the reference does: no %-decoding, and # is part of the name', () => {
      const pem = '-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n';
      writeFileSync(join(dir, 'dispatch%20key#1'), pem);
      const { cluster } = loadConfigText(`Clusters:\n  zzzzz:\n    Containers:\n      DispatchPrivateKey: file://${dir}/dispatch%20key#1\n`);
      assert.equal(cluster.Containers.DispatchPrivateKey, pem);
      // A host part is not a path: the reference would take the whole value as the key itself, and fail.
      assert.deepEqual(errorsOf(() => loadConfigText(`Clusters:\n  zzzzz:\n    Containers:\n      DispatchPrivateKey: file://localhost${dir}/dispatch%20key#1\n`)), [
        `Clusters.zzzzz.Containers.DispatchPrivateKey: expected file:///absolute/path/to/key, got "file://localhost${dir}/dispatch%20key#1"`,
      ]);
    });

    it('names the file when it cannot be read', () => {
      assert.deepEqual(errorsOf(() => loadConfigText(`Clusters:\n  zzzzz:\n    Containers:\n      DispatchPrivateKey: file://${dir}/missing\n`)), [
        `Clusters.zzzzz.Containers.DispatchPrivateKey: cannot read ${dir}/missing: ENOENT`,
      ]);
    });

    it('rejects a file that holds no key, and a relative file URL', () => {
      writeFileSync(join(dir, 'notakey'), 'hello\n');
      assert.deepEqual(errorsOf(() => loadConfigText(`Clusters:\n  zzzzz:\n    Containers:\n      DispatchPrivateKey: file://${dir}/notakey\n`)), [
        `Clusters.zzzzz.Containers.DispatchPrivateKey: ${dir}/notakey does not hold a PEM private key ("-----BEGIN ... PRIVATE KEY-----")`,
      ]);
      assert.deepEqual(errorsOf(() => loadConfigText('Clusters:\n  zzzzz:\n    Containers:\n      DispatchPrivateKey: file://key\n')), [
        'Clusters.zzzzz.Containers.DispatchPrivateKey: expected file:///absolute/path/to/key, got "file://key"',
      ]);
    });
  });

  describe('what the daemon needs', () => {
    it('warns about, and daemonConfigProblems reports, an empty token, controller URL and key', () => {
      const { cluster, warnings } = loadConfigText('Clusters:\n  zzzzz: {}\n');
      const problems = [
        'Clusters.zzzzz.SystemRootToken: required to run the dispatcher, but empty',
        'Clusters.zzzzz.Services.Controller.ExternalURL: required to run the dispatcher, but empty',
        'Clusters.zzzzz.Containers.DispatchPrivateKey: required to run the dispatcher (with any driver but lame), but empty',
      ];
      assert.deepEqual(daemonConfigProblems(cluster), problems);
      for (const p of problems) assert.ok(warnings.includes(p), p);
      assert.deepEqual(dispatcherConfigErrors(cluster), [
        'Clusters.zzzzz.InstanceTypes: none configured, so every container would be cancelled ("site configuration does not list any instance types"): the dispatcher does not start without one',
      ]);
      assert.ok(!warnings.some((w) => w.includes('InstanceTypes')), 'an error, not a warning');
      assert.ok(warnings.some((w) => w.startsWith('Clusters.zzzzz.ManagementToken: empty')));
    });

    it('accepts an empty key with the lame driver', () => {
      const { cluster } = loadConfigText(withCloudVMs('        Driver: lame\n'));
      assert.ok(!daemonConfigProblems(cluster).some((p) => p.includes('DispatchPrivateKey')));
    });

    it('warns about a short token', () => {
      const { warnings } = loadConfigText('Clusters:\n  zzzzz:\n    SystemRootToken: short\n');
      assert.ok(warnings.includes('Clusters.zzzzz.SystemRootToken: token is too short (should be at least 32 characters)'));
    });
  });
});
