/**
 * Loading a bad config: every mistake reported at once, each with its YAML
 * path and what was expected; errors for what Arvados refuses too, warnings
 * (and the value taken) for what it accepts (unknown keys at any depth, a
 * map for a single value, a key given twice), YAML syntax errors with the
 * line, an unreadable file, a bad cluster id, and never a secret quoted.
 * A good config, the cluster choice and the key file are load.test.ts.
 */
import assert from 'node:assert/strict';
import { loadConfigFile } from '../../src/config/load.js';
import { BAD_CONFIG } from './fixtures.js';
import { configErrorOf, errorsOf, MGMT_TOKEN, ROOT_TOKEN, withCloudVMs, loadUnlocated as loadConfigText } from './load-helpers.js';

describe('config loading', () => {
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
});
