import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, daemonConfigProblems, loadConfigFile, loadConfigText } from '../../src/config/load.js';
import { BAD_CONFIG } from './fixtures.js';

const GiB = 2 ** 30;
const ROOT_TOKEN = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEF';
const MGMT_TOKEN = 'ZYXWVUTSRQPONMLKJIHGFEDCBA9876543210zyxwvu';

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

function configErrorOf(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected a ConfigError');
}

function errorsOf(fn: () => unknown): string[] {
  return configErrorOf(fn).errors;
}

/** `GOOD` with the CloudVMs section's lines replaced by `cloudVMs` (indented as given). */
function withCloudVMs(cloudVMs: string): string {
  return `Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT_TOKEN}\n    Containers:\n      CloudVMs:\n${cloudVMs}`;
}

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

  describe('a bad config', () => {
    it('reports a bad duration (an error), a misspelled CloudVMs key and an instance type without RAM (warnings), all at once', () => {
      const err = configErrorOf(() => loadConfigText(BAD_CONFIG));
      assert.deepEqual(err.errors, ['Clusters.zzzzz.Containers.CloudVMs.TimeoutIdle: invalid duration "1 minute"']);
      assert.deepEqual(err.warnings.slice(0, 2), [
        'Clusters.zzzzz.Containers.CloudVMs.TimeoutIdel: unknown key (did you mean TimeoutIdle?)',
        'Clusters.zzzzz.InstanceTypes.foo.RAM: absent: no container fits this type (give the memory size, e.g. "16GiB")',
      ]);
    });

    it('names the path and the expectation for type errors; values Arvados accepts but that make no sense are warnings', () => {
      const { errors, warnings } = configErrorOf(() =>
        loadConfigText(`
Clusters:
  zzzzz:
    SystemRootToken: [a, b]
    TLS: {Insecure: maybe}
    SystemLogs: {LogLevel: loud, Format: xml}
    Services:
      Controller: {ExternalURL: "not a url"}
      Websocket: {ExternalURL: "ftp://ws.example"}
      DispatchCloud: {InternalURLs: {"ftp://x": {}}}
    Containers:
      ReserveExtraRAM: lots
      MaxDispatchAttempts: 2.5
      MaximumPriceFactor: "1.5"
      CrunchRunArgumentsList: --foo
      LocalKeepLogsToContainerLog: ALL
      DispatchPrivateKey: not a key
      CloudVMs:
        Enable: 1
        MaxInstances: -1
        PollInterval: 60
        TimeoutIdle: -1s
        ResourceTags: [x]
        DriverParameters: 12
    InstanceTypes:
      a:
        VCPUs: 0
        RAM: 0
        Price: cheap
        Preemptible: "false"
        GPU: {DeviceCount: 1, Stack: opencl, DriverVersion: latest, Foo: 1}
      b: 7
`),
      );
      assert.deepEqual(errors.sort(), [
        'Clusters.zzzzz.Containers.CloudVMs.DriverParameters: expected a map, got 12',
        'Clusters.zzzzz.Containers.CloudVMs.Enable: expected true or false, got 1',
        'Clusters.zzzzz.Containers.CloudVMs.PollInterval: invalid duration "60": missing unit, e.g. "60s"',
        'Clusters.zzzzz.Containers.CloudVMs.ResourceTags: expected a map of names to strings, got a list',
        'Clusters.zzzzz.Containers.CrunchRunArgumentsList: expected a list of strings, got "--foo"',
        'Clusters.zzzzz.Containers.DispatchPrivateKey: expected a PEM private key ("-----BEGIN ... PRIVATE KEY-----") or file:///path/to/key',
        'Clusters.zzzzz.Containers.LocalKeepLogsToContainerLog: unacceptable value "ALL": must be one of "none", "all", "errors"',
        'Clusters.zzzzz.Containers.MaxDispatchAttempts: expected a whole number, got 2.5',
        'Clusters.zzzzz.Containers.MaximumPriceFactor: expected a number, got "1.5"',
        'Clusters.zzzzz.Containers.ReserveExtraRAM: invalid byte size "lots"',
        'Clusters.zzzzz.InstanceTypes.a.GPU.DriverVersion: expected a version like "12.4" (a number, as Arvados reads it), got "latest"',
        'Clusters.zzzzz.InstanceTypes.a.Preemptible: expected true or false, got "false"',
        'Clusters.zzzzz.InstanceTypes.a.Price: expected a number, got "cheap"',
        'Clusters.zzzzz.InstanceTypes.b: expected a map of keys to values, got 7',
        'Clusters.zzzzz.Services.Controller.ExternalURL: expected an http:// or https:// URL, got "not a url"',
        'Clusters.zzzzz.Services.DispatchCloud.InternalURLs.ftp://x: expected an http:// or https:// URL, got "ftp://x"',
        'Clusters.zzzzz.SystemLogs.Format: expected one of json, text (or plain), got "xml"',
        'Clusters.zzzzz.SystemLogs.LogLevel: expected one of trace, debug, verbose, info, warn, warning, error, fatal, panic, got "loud"',
        'Clusters.zzzzz.SystemRootToken: expected a string, got a list',
        'Clusters.zzzzz.TLS.Insecure: expected true or false, got "maybe"',
      ]);
      assert.deepEqual(warnings.sort(), [
        'Clusters.zzzzz.Containers.CloudVMs.MaxInstances: negative (-1): no limit, as 0',
        'Clusters.zzzzz.Containers.CloudVMs.TimeoutIdle: negative ("-1s"): as 0: the worker pool\'s default, 1m',
        'Clusters.zzzzz.InstanceTypes.a.GPU.Foo: unknown key',
        'Clusters.zzzzz.InstanceTypes.a.GPU.Stack: expected "cuda" or "rocm", got "opencl": no container can run on this type',
        'Clusters.zzzzz.InstanceTypes.a.GPU.VRAM: not given: containers that ask for GPU memory will not run on this type',
        'Clusters.zzzzz.InstanceTypes.a.RAM: is 0: no container fits this type (give the memory size, e.g. "16GiB")',
        'Clusters.zzzzz.InstanceTypes.a.VCPUs: is 0: no container fits this type (give the number of virtual CPUs)',
        'Clusters.zzzzz.Services.Websocket.ExternalURL: expected a ws://, wss://, http:// or https:// URL, got "ftp://ws.example": no event feed, new containers are seen at the next poll (as the reference dispatcher, which does not read this key)',
      ]);
    });

    it('a Websocket.ExternalURL the event feed cannot use turns the feed off, not the daemon (the reference does not read it)', () => {
      const { cluster, warnings } = loadConfigText('Clusters:\n  zzzzz:\n    Services:\n      Websocket: {ExternalURL: ws.zzzzz.example.com}\n');
      assert.equal(cluster.Services.Websocket.ExternalURL, '');
      assert.deepEqual(warnings.filter((w) => w.includes('Websocket')), [
        'Clusters.zzzzz.Services.Websocket.ExternalURL: expected a ws://, wss://, http:// or https:// URL, got "ws.zzzzz.example.com": no event feed, new containers are seen at the next poll (as the reference dispatcher, which does not read this key)',
      ]);
    });

    it('never quotes a bad private key or token in its messages', () => {
      const errors = errorsOf(() => loadConfigText('Clusters:\n  zzzzz:\n    SystemRootToken: "sekrit-with-dashes"\n    Containers:\n      DispatchPrivateKey: sekritkeytext\n'));
      assert.equal(errors.length, 2);
      for (const e of errors) assert.doesNotMatch(e, /sekrit/);
      assert.ok(errors.includes('Clusters.zzzzz.SystemRootToken: unacceptable characters in token (only a-z, A-Z, 0-9 are acceptable)'));
    });

    it('warns about an unknown key at any depth, with its path, in sections it does not read too', () => {
      const { cluster, warnings } = loadConfigText(
        'Top: 1\nClusters:\n  zzzzz:\n    Bogus: 1\n    Containers:\n      Bogus: 2\n      SLURM: {X: 1, PrioritySpread: 0}\n    Services:\n      Bogus: {}\n      Keepstore: {InternalURLs: {"http://k:1": {ListenUrl: "", Rendezvous: ""}}}\n',
      );
      assert.equal(cluster.ClusterID, 'zzzzz');
      assert.deepEqual(
        warnings.filter((w) => w.includes('unknown key')),
        [
          'Top: unknown key',
          'Clusters.zzzzz.Bogus: unknown key',
          'Clusters.zzzzz.Containers.Bogus: unknown key',
          'Clusters.zzzzz.Containers.SLURM.X: unknown key',
          'Clusters.zzzzz.Services.Bogus: unknown key',
          'Clusters.zzzzz.Services.Keepstore.InternalURLs.http://k:1.ListenUrl: unknown key (did you mean ListenURL?)',
        ],
      );
    });

    it('an unknown key under Containers.CloudVMs is a warning with its path, not fatal', () => {
      const { cluster, warnings } = loadConfigText(withCloudVMs('        MaxInstance: 5\n        timeoutidle: 5m\n        Driver: lame\n'));
      assert.equal(cluster.Containers.CloudVMs.MaxInstances, 64, 'the misspelt key is ignored');
      assert.equal(cluster.Containers.CloudVMs.TimeoutIdle, 60_000, 'a key in the wrong case is ignored, as Arvados ignores it');
      assert.deepEqual(warnings.slice(0, 2), [
        'Clusters.zzzzz.Containers.CloudVMs.MaxInstance: unknown key (did you mean MaxInstances?)',
        'Clusters.zzzzz.Containers.CloudVMs.timeoutidle: unknown key (did you mean TimeoutIdle?)',
      ]);
    });

    it('warns about a map where Arvados expects a single value', () => {
      const { warnings } = loadConfigText('Clusters:\n  zzzzz:\n    API:\n      MaxItemsPerResponse: {a: 1}\n');
      assert.ok(warnings.includes('Clusters.zzzzz.API.MaxItemsPerResponse: unexpected map: Arvados expects a single value here'), warnings.join('\n'));
    });

    it('passes DriverParameters through without checking their keys', () => {
      const { cluster } = loadConfigText(withCloudVMs('        DriverParameters:\n          Anything: [1, 2]\n          Nested: {Deep: true}\n'));
      assert.deepEqual(cluster.Containers.CloudVMs.DriverParameters, { Anything: [1, 2], Nested: { Deep: true } });
    });

    it('reports YAML syntax errors with the line', () => {
      const errors = errorsOf(() => loadConfigText('Clusters:\n  zzzzz:\n    API: {MaxItemsPerResponse: 1\n', { source: 'x.yml' }));
      assert.equal(errors.length, 1);
      assert.match(errors[0], /^x\.yml: line 4, column 1: /);
    });

    it('takes the last of a key given twice, with a warning naming the line, as Arvados reads it', () => {
      const { cluster, warnings } = loadConfigText(`Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT_TOKEN}\n    ManagementToken: a\n    ManagementToken: ${MGMT_TOKEN}\n`, { source: 'x.yml' });
      assert.equal(cluster.ManagementToken, MGMT_TOKEN);
      assert.match(warnings[0], /^x\.yml: line 5, column 5: Map keys must be unique: the last one is used$/);
    });

    it('reports an unreadable file', () => {
      const errors = errorsOf(() => loadConfigFile('/nonexistent/config.yml'));
      assert.match(errors[0], /^\/nonexistent\/config\.yml: cannot read the config file: ENOENT/);
    });

    it('rejects a bad cluster id', () => {
      assert.deepEqual(errorsOf(() => loadConfigText('Clusters:\n  ZZ:\n    {}\n')), ['Clusters.ZZ: cluster ID should be 5 alphanumeric characters (a-z, 0-9)']);
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
      assert.ok(warnings.some((w) => w.startsWith('Clusters.zzzzz.InstanceTypes: none configured')));
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
