/**
 * The cluster config crunch-run gets on stdin, as the reference's Go
 * `encoding/json` writes its `arvados.Cluster`. The `*.go.json` fixtures were
 * recorded from the reference's own Go types (sdk/go/arvados at 913e363)
 * decoding the merged config (`clusterConfigTree`) and encoding it again;
 * the spot checks say in words what those files hold.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isScalar, parseDocument, visit } from 'yaml';
import { clusterJSON, instanceTypeJSON } from '../../src/arvados/cluster-json/cluster.js';
import { REFERENCE_CLUSTER_DEFAULTS } from '../../src/config/reference-defaults.js';
import { goByteSize, goURL } from '../../src/arvados/cluster-json/encode.js';
import { CLUSTER, type GoKind } from '../../src/arvados/cluster-json/schema.js';
import { copyCluster } from '../../src/config/copy.js';
import { loadConfigFile, loadConfigText } from '../../src/config/load.js';
import type { Cluster } from '../../src/config/types.js';
import { defaultsModule } from '../../scripts/gen-reference-defaults.js';

const DEFAULTS_FILE = fileURLToPath(new URL('../../../shared/arvados-config.default.yml', import.meta.url));
const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/cluster-json/${name}`, import.meta.url));

type JsonMap = Record<string, any>;

/** YAML text without its SAMPLE entries, at any depth: the defaults as the reference's loader uses them. */
function withoutSampleEntries(text: string): string {
  const doc = parseDocument(text);
  visit(doc, {
    Pair(_key, pair) {
      if (isScalar(pair.key) && pair.key.value === 'SAMPLE') return visit.REMOVE;
    },
  });
  return doc.toString();
}

/** The defaults the daemon does not reproduce (see scripts/gen-reference-defaults.ts). */
const PROSE = [
  ['Users', 'UserSetupMailText'],
  ['Workbench', 'UserProfileFormMessage'],
  ['Workbench', 'WelcomePageHTML'],
  ['Workbench', 'InactivePageHTML'],
  ['Workbench', 'SSHHelpPageHTML'],
] as const;

const encode = (cluster: Cluster): JsonMap => JSON.parse(clusterJSON(cluster)) as JsonMap;
const fromYAML = (yaml: string): JsonMap => encode(loadConfigText(yaml).cluster);

describe('arvados/cluster-json: the defaults', () => {
  let text: string;
  let json: JsonMap;

  before(() => {
    text = clusterJSON(loadConfigText('Clusters:\n  xxxxx: {}\n').cluster);
    json = JSON.parse(text) as JsonMap;
  });

  it('encodes a config that sets nothing byte for byte as the reference Go struct does', () => {
    assert.equal(text + '\n', readFileSync(fixture('defaults.go.json'), 'utf8'));
  });

  it('encodes config.default.yml itself the same, apart from the prose it holds, once its SAMPLE entries are taken out', () => {
    const file = encode(loadConfigText(withoutSampleEntries(readFileSync(DEFAULTS_FILE, 'utf8'))).cluster);
    assert.match(file.Workbench.WelcomePageHTML, /<h2>/);
    for (const [section, key] of PROSE) {
      assert.notEqual(file[section][key], '', `${section}.${key}`);
      file[section][key] = '';
    }
    assert.deepEqual(file, json);
  });

  it("keeps the SAMPLE entries of a site's file, as the reference does (it drops SAMPLE only from its own defaults)", () => {
    const file = encode(loadConfigFile(DEFAULTS_FILE).cluster);
    assert.equal(file.InstanceTypes.SAMPLE.ProviderType, 'SAMPLE');
    assert.equal(file.RemoteClusters.SAMPLE.Host, 'sample.arvadosapi.com');
    assert.deepEqual(file.Services.DispatchCloud.InternalURLs, { SAMPLE: { ListenURL: '' } });
    assert.equal(file.Containers.CloudVMs.ResourceTags.SAMPLE, 'tag value');
  });

  it('writes every field of the struct, in struct order, and leaves out json:"-" (ClusterID)', () => {
    assert.deepEqual(Object.keys(json), Object.keys(CLUSTER.struct));
    assert.equal(Object.keys(json)[0], 'ManagementToken');
    assert.equal('ClusterID' in json, false);
    assert.deepEqual(Object.keys(json.Services), Object.keys((CLUSTER.struct.Services as { struct: object }).struct));
    assert.deepEqual(json.Services.ContainerWebServices, { InternalURLs: {}, ExternalURL: '', ExternalPortMin: 0, ExternalPortMax: 0 });
  });

  it('writes durations in their short String form: "5m", "1h"-style, "0s"', () => {
    assert.equal(json.API.RequestTimeout, '5m');
    assert.equal(json.API.SendTimeout, '1m', '60s');
    assert.equal(json.API.MaxTokenLifetime, '0s');
    assert.equal(json.API.MaxQueueTimeForLockRequests, '2s');
    assert.equal(json.Collections.BlobSigningTTL, '336h');
    assert.equal(json.Collections.BalancePeriod, '6h');
    assert.equal(json.Collections.WebDAVCache.TTL, '5m', '300s');
    assert.equal(json.Users.ActivityLoggingPeriod, '24h');
    assert.equal(json.Containers.Logging.LogUpdatePeriod, '30m');
    assert.equal(json.Containers.LSF.MaxRunTimeDefault, '0s', 'a bare 0');
    assert.equal(json.Containers.CloudVMs.TimeoutTERM, '2m');
    assert.equal(json.Containers.CloudVMs.SyncInterval, '1m');
    assert.equal(json.Workbench.IdleTimeout, '0s');
  });

  it('writes byte sizes as integers, and a percentage as "N%"', () => {
    assert.equal(json.Containers.ReserveExtraRAM, 550 * 2 ** 20);
    assert.equal(json.Containers.Logging.LogUpdateSize, 32 * 2 ** 20);
    assert.equal(json.Containers.DefaultKeepCacheRAM, 0);
    assert.equal(json.Collections.WebDAVCache.MaxCollectionBytes, 100_000_000, '"100 MB"');
    assert.equal(json.Collections.WebDAVOutputBuffer, 0);
    assert.equal(json.Collections.WebDAVCache.DiskCacheSize, '10%');
  });

  it('writes plain values, URLs and TLS versions as Go holds them', () => {
    assert.equal(json.Containers.CloudVMs.SupervisorFraction, 0.5);
    assert.equal(json.Containers.MaximumPriceFactor, 1.5);
    assert.equal(json.Containers.CloudVMs.MaxInstances, 64);
    assert.equal(json.Containers.CloudVMs.SSHPort, '22');
    assert.equal(json.Containers.LocalKeepBlobBuffersPerVCPU, 1);
    assert.equal(json.PostgreSQL.ConnectionPool, 32);
    assert.equal(json.Login.LDAP.URL, 'ldap://ldap:389/', 'a URL with a host and no path gets "/"');
    assert.equal(json.Login.LDAP.MinTLSVersion, '');
    assert.equal(json.Services.Controller.ExternalURL, '');
  });

  it('drops SAMPLE entries: empty maps stay {}, lists [] and sets {}', () => {
    assert.deepEqual(json.InstanceTypes, {});
    assert.deepEqual(json.Volumes, {});
    assert.deepEqual(json.Services.Keepstore.InternalURLs, {});
    assert.deepEqual(json.Containers.CloudVMs.ResourceTags, {});
    assert.deepEqual(json.Containers.CrunchRunArgumentsList, []);
    assert.deepEqual(json.Users.UserNotifierEmailBcc, {});
    assert.deepEqual(json.Login.TrustedClients, {});
    assert.deepEqual(json.Collections.ManagedProperties, {});
    assert.deepEqual(json.PostgreSQL.Connection, { dbname: '', host: '', password: '', port: '', user: '' });
    assert.deepEqual(json.Containers.SupportedDockerImageFormats, { v2: {} });
    assert.deepEqual(Object.keys(json.Users.AutoSetupUsernameBlacklist), ['arvados', 'git', 'gitolite', 'gitolite-admin', 'root', 'syslog']);
    assert.deepEqual(json.Users.SyncRequiredGroups, ['fuse']);
    assert.deepEqual(json.RemoteClusters, { '*': { Host: '', Proxy: false, Scheme: 'https', Insecure: false, ActivateUsers: false } });
  });

  it('passes DriverParameters through as raw JSON with sorted keys', () => {
    const params = json.Containers.CloudVMs.DriverParameters;
    assert.deepEqual(Object.keys(params), [...Object.keys(params)].sort());
    assert.equal(params.SpotPriceUpdateInterval, '24h');
    assert.equal(params.EBSPrice, 0.1);
    assert.deepEqual(params.SecurityGroupIDs, {});
    assert.equal(params.InstanceTypeQuotaGroups.p5, 'p5');
  });

  it('gives a config without storage classes the implicit "default" class, as the reference loader does', () => {
    assert.deepEqual(json.StorageClasses, { default: { Default: true, Priority: 0 } });
  });

  it('leaves the prose defaults (page HTML, mail text) empty', () => {
    assert.equal(json.Workbench.WelcomePageHTML, '');
    assert.equal(json.Users.UserSetupMailText, '');
    assert.equal(json.Workbench.SiteName, 'Arvados Workbench');
  });

  it('is generated from the reference defaults file (scripts/gen-reference-defaults.ts)', () => {
    const committed = readFileSync(fileURLToPath(new URL('../../src/config/reference-defaults.ts', import.meta.url)), 'utf8');
    assert.equal(committed, defaultsModule(readFileSync(DEFAULTS_FILE, 'utf8')));
  });

  it('has a struct field for every key of the defaults file (the table matches the file)', () => {
    const missing: string[] = [];
    const walk = (kind: GoKind, value: unknown, path: string): void => {
      if (typeof kind === 'string' || !value || typeof value !== 'object' || Array.isArray(value)) return;
      for (const [k, v] of Object.entries(value)) {
        if ('struct' in kind) {
          const field = kind.struct[k];
          if (field === undefined) missing.push(`${path}.${k}`);
          else walk(typeof field === 'object' && 'omitempty' in field ? field.kind : (field as GoKind), v, `${path}.${k}`);
        } else {
          walk(kind.map, v, `${path}.${k}`);
        }
      }
    };
    walk(CLUSTER, REFERENCE_CLUSTER_DEFAULTS, 'Cluster');
    assert.deepEqual(missing, []);
  });
});

describe('arvados/cluster-json: a config with overrides', () => {
  let cluster: Cluster;
  let json: JsonMap;

  before(() => {
    cluster = loadConfigFile(fixture('rich.yml')).cluster;
    json = encode(cluster);
  });

  it('encodes byte for byte as the reference Go struct does', () => {
    assert.equal(clusterJSON(cluster) + '\n', readFileSync(fixture('rich.go.json'), 'utf8'));
  });

  it('merges maps key by key over the defaults and replaces lists', () => {
    assert.deepEqual(Object.keys(json.RemoteClusters), ['*', 'yyyyy']);
    assert.equal(json.RemoteClusters.yyyyy.Scheme, '', 'an entry of a map gets no defaults from other entries');
    assert.equal(json.PostgreSQL.Connection.password, 'pg&<secret>');
    assert.equal(json.PostgreSQL.Connection.user, '', 'default key kept');
    assert.equal(json.PostgreSQL.Connection.sslmode, 'require');
    assert.deepEqual(json.Containers.CrunchRunArgumentsList, ['--cgroup-parent-subsystem=cpu', "it's"]);
    assert.deepEqual(json.Users.SyncIgnoredGroups, [], 'an empty list replaces the default');
    assert.equal(json.Containers.CloudVMs.DriverParameters.Seed, 7);
    assert.equal(json.Containers.CloudVMs.DriverParameters.AccessKeyID, '', 'default driver parameters kept');
  });

  it('writes overridden durations, sizes and percentages as Go does', () => {
    assert.equal(json.Collections.BlobSigningTTL, '1h30m');
    assert.equal(json.Containers.CloudVMs.TimeoutIdle, '1h30s', '1h0m30s loses its "0m"');
    assert.equal(json.Containers.StaleLockTimeout, '1m30s');
    assert.equal(json.API.MaxTokenLifetime, '720h');
    assert.equal(json.Containers.ReserveExtraRAM, 2 ** 30);
    assert.equal(json.Collections.WebDAVCache.MaxCollectionBytes, 1.5 * 2 ** 30);
    assert.equal(json.Collections.WebDAVCache.DiskCacheSize, '5%');
    assert.equal(json.Collections.WebDAVOutputBuffer, 64 * 1024);
  });

  it('normalises URLs and URL map keys, and writes Rendezvous only when set (omitempty)', () => {
    assert.equal(json.Services.Controller.ExternalURL, 'https://ctl.example.com:8443/');
    assert.deepEqual(json.Services.Keepstore.InternalURLs, {
      'http://keep0.example:25107/': { ListenURL: '', Rendezvous: 'abc' },
      'http://keep1.example:25107/': { ListenURL: 'http://0.0.0.0:25107/' },
    });
    assert.deepEqual(Object.keys(json.Login.TrustedClients), ['https://wb.example.com/', 'https://wb2.example.com:443/']);
    assert.equal(goURL('HTTP://Host:1/p?q=1#f'), 'http://Host:1/p?q=1#f');
    assert.equal(goURL(''), '');
  });

  it('reads sets given as lists, and an empty list as null', () => {
    assert.deepEqual(json.API.DisabledAPIs, { 'jobs.create': {}, 'pipeline_instances.create': {} });
    assert.equal(json.API.FreezeProjectRequiresProperties, null);
    assert.deepEqual(json.Containers.SupportedDockerImageFormats, { v1: {}, v2: {} });
    assert.deepEqual(Object.keys(json.Users.AutoSetupUsernameBlacklist), ['admin', 'root']);
  });

  it('sorts map keys as Go does, integer-like keys included', () => {
    assert.match(clusterJSON(cluster), /"ResourceTags":\{"10":"ten","9":"nine","Owner":"ops"\}/);
    assert.match(clusterJSON(cluster), /"Value":\{"10":"z","9":"y","a":1,"b":\["x",2\.5\]\}/);
  });

  it('escapes <, > and & inside strings as Go does', () => {
    assert.match(clusterJSON(cluster), /"SiteName":"Tom \\u0026 Jerry \\u003cArvados\\u003e"/);
  });

  it('writes the compiled instance types, preemptible variants included, without Name and Scratch (json:"-")', () => {
    assert.deepEqual(Object.keys(json.InstanceTypes).sort(), ['gpu1', 'gpu1.preemptible', 'm5.large', 'm5.large.preemptible', 'spot.big']);
    assert.deepEqual(json.InstanceTypes['m5.large.preemptible'], {
      ProviderType: 'm5.large',
      VCPUs: 2,
      RAM: 8 * 2 ** 30,
      IncludedScratch: 32e9,
      AddedScratch: 0,
      Price: 0.048,
      Preemptible: true,
      GPU: { Stack: '', DriverVersion: '', HardwareTarget: '', DeviceCount: 0, VRAM: 0 },
    });
    assert.equal(json.InstanceTypes.gpu1.ProviderType, 'gpu1', 'defaults to the name');
    assert.equal(json.InstanceTypes.gpu1.GPU.VRAM, 16 * 2 ** 30);
  });

  it('gives every volume the implicit "default" storage class when none is configured anywhere', () => {
    assert.deepEqual(json.StorageClasses, { default: { Default: true, Priority: 0 } });
    const vol = json.Volumes['zzzzz-nyw5e-000000000000001'];
    assert.deepEqual(vol.StorageClasses, { default: true });
    assert.deepEqual(vol.AccessViaHosts, { 'http://keep0.example:25107/': { ReadOnly: true } });
    assert.deepEqual(vol.DriverParameters, { Root: '/var/lib/keep' });
    assert.equal(json.Volumes['zzzzz-nyw5e-000000000000000'].Replication, 2);
  });

  it('cuts an AnonymousUserToken with three slashes down to its third part, as the reference loader does', () => {
    assert.equal(json.Users.AnonymousUserToken, 'anonsecret0123456789abcdef0123456789');
  });
});

describe('arvados/cluster-json: what the dispatcher runs on', () => {
  it('lays values set in code over the file (a cluster modified after loading)', () => {
    const { cluster } = loadConfigText('Clusters:\n  zzzzz:\n    Services:\n      Controller:\n        ExternalURL: https://a.example\n');
    const changed: Cluster = { ...cluster, Services: { ...cluster.Services, Controller: { ExternalURL: 'https://b.example' } } };
    assert.equal(encode(changed).Services.Controller.ExternalURL, 'https://b.example/');
    assert.equal(encode(cluster).Services.Controller.ExternalURL, 'https://a.example/');
  });

  it('passes DispatchPrivateKey as written in the file (a file:// URL), not the key it names', () => {
    const dir = mkdtempSync(join(tmpdir(), 'cluster-json-'));
    try {
      const key = join(dir, 'id');
      writeFileSync(key, '-----BEGIN OPENSSH PRIVATE KEY-----\nx\n-----END OPENSSH PRIVATE KEY-----\n');
      const { cluster } = loadConfigText(`Clusters:\n  zzzzz:\n    Containers:\n      DispatchPrivateKey: file://${key}\n`);
      assert.match(cluster.Containers.DispatchPrivateKey, /BEGIN OPENSSH/);
      assert.equal(encode(cluster).Containers.DispatchPrivateKey, `file://${key}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('encodes a cluster built in code (no file section) from the defaults and its own values', () => {
    const { cluster } = loadConfigText('Clusters:\n  zzzzz:\n    SystemRootToken: abc\n');
    const built: Cluster = { ...cluster, RawSection: undefined };
    const json = encode(built);
    assert.equal(json.SystemRootToken, 'abc');
    assert.equal(json.Collections.BlobSigningTTL, '336h');
    assert.equal(json.Containers.CloudVMs.TimeoutBooting, '10m');
  });

  it("reads byte sizes with the reference's parser: a string without a unit stays zero, a trailing E is Exa", () => {
    assert.equal(goByteSize('100'), 0);
    assert.equal(goByteSize('100 '), 100);
    assert.equal(goByteSize('4E'), 4e18);
    assert.equal(goByteSize('1e3KB'), 1e6);
    assert.equal(goByteSize(1.5), 0);
    assert.equal(fromYAML('Clusters:\n  zzzzz:\n    Collections:\n      WebDAVOutputBuffer: "4096"\n').Collections.WebDAVOutputBuffer, 0);
  });

  it('ignores null values in the file (the default stays)', () => {
    assert.equal(fromYAML('Clusters:\n  zzzzz:\n    API:\n      RequestTimeout: null\n').API.RequestTimeout, '5m');
  });

  it('writes an instance type record as Go\'s indented JSON, with a trailing newline', () => {
    const { cluster } = loadConfigText(
      'Clusters:\n  zzzzz:\n    InstanceTypes:\n      small: {ProviderType: t3.small, VCPUs: 2, RAM: 2GiB, IncludedScratch: 8GB, Price: 0.02}\n',
    );
    assert.equal(
      instanceTypeJSON(cluster.InstanceTypes.small),
      [
        '{',
        '    "ProviderType": "t3.small",',
        '    "VCPUs": 2,',
        '    "RAM": 2147483648,',
        '    "IncludedScratch": 8000000000,',
        '    "AddedScratch": 0,',
        '    "Price": 0.02,',
        '    "Preemptible": false,',
        '    "GPU": {',
        '        "Stack": "",',
        '        "DriverVersion": "",',
        '        "HardwareTarget": "",',
        '        "DeviceCount": 0,',
        '        "VRAM": 0',
        '    }',
        '}',
        '',
      ].join('\n'),
    );
  });

  it('adds no implicit storage class when one is configured', () => {
    const json = fromYAML('Clusters:\n  zzzzz:\n    StorageClasses:\n      fast: {Default: true, Priority: 5}\n    Volumes:\n      zzzzz-nyw5e-000000000000000: {Driver: Directory, StorageClasses: {fast: true}}\n');
    assert.deepEqual(json.StorageClasses, { fast: { Default: true, Priority: 5 } });
    assert.deepEqual(json.Volumes['zzzzz-nyw5e-000000000000000'].StorageClasses, { fast: true });
  });

  it('leaves a v2 AnonymousUserToken (two slashes) as it is, as the reference loader does', () => {
    const token = 'v2/zzzzz-gj3su-000000000000000/anonsecret0123456789abcdef0123456789';
    assert.equal(fromYAML(`Clusters:\n  zzzzz:\n    Users:\n      AnonymousUserToken: ${token}\n`).Users.AnonymousUserToken, token);
  });

  it('adds no implicit storage class when only a volume names one', () => {
    const json = fromYAML('Clusters:\n  zzzzz:\n    Volumes:\n      zzzzz-nyw5e-000000000000000: {Driver: Directory, StorageClasses: {fast: true}}\n      zzzzz-nyw5e-000000000000001: {Driver: Directory}\n');
    assert.deepEqual(json.StorageClasses, {});
    assert.deepEqual(json.Volumes['zzzzz-nyw5e-000000000000000'].StorageClasses, { fast: true });
    assert.equal(json.Volumes['zzzzz-nyw5e-000000000000001'].StorageClasses, null);
  });

  it('lays false, zero and a zero duration set in code over the file too', () => {
    const { cluster } = loadConfigText('Clusters:\n  zzzzz:\n    TLS: {Insecure: true}\n    Containers:\n      CloudVMs: {MaxInstances: 7, TimeoutIdle: 5m}\n');
    const vms = cluster.Containers.CloudVMs;
    // A copy that keeps the file's section, so the file has its say.
    const changed = copyCluster(cluster, {
      TLS: { ...cluster.TLS, Insecure: false },
      Containers: { ...cluster.Containers, CloudVMs: { ...vms, MaxInstances: 0, TimeoutIdle: 0 } },
    });
    const json = encode(changed);
    assert.deepEqual([json.TLS.Insecure, json.Containers.CloudVMs.MaxInstances, json.Containers.CloudVMs.TimeoutIdle], [false, 0, '0s']);
    assert.deepEqual([encode(cluster).TLS.Insecure, encode(cluster).Containers.CloudVMs.MaxInstances], [true, 7]);
  });

  it('writes a value the reference would refuse as the zero value: a fractional int, an unknown TLS version', () => {
    const json = fromYAML('Clusters:\n  zzzzz:\n    Collections: {BlobTrashConcurrency: 2.5}\n    Login: {LDAP: {MinTLSVersion: "1.4"}}\n');
    assert.equal(json.Collections.BlobTrashConcurrency, 0);
    assert.equal(json.Login.LDAP.MinTLSVersion, '');
  });

  it('writes a percentage of 100 back as "100%"', () => {
    assert.equal(fromYAML('Clusters:\n  zzzzz:\n    Collections: {WebDAVCache: {DiskCacheSize: 100%}}\n').Collections.WebDAVCache.DiskCacheSize, '100%');
  });
});
