import assert from 'node:assert/strict';
import { createHmac, generateKeyPairSync } from 'node:crypto';
import type { CrunchRunConfig } from '../../src/arvados/crunch-run.js';
import { clusterJSON, workerClusterJSON } from '../../src/arvados/cluster-json/cluster.js';
import { loadConfigText } from '../../src/config/load.js';
import type { Cluster, InstanceType } from '../../src/config/types.js';
import { apiHostFor, crunchRunConfigJSON } from '../../src/worker/runner.js';

const UUID = 'zzzzz-dz642-000000000000001';

function cluster(extra = ''): Cluster {
  return loadConfigText(
    [
      'Clusters:',
      '  zzzzz:',
      '    SystemRootToken: roottoken0123456789abcdef0123456789',
      '    ManagementToken: mgmttoken0123456789abcdef0123456789',
      '    Services: {Controller: {ExternalURL: "https://ctrl.example:8443/"}}',
      '    TLS: {Insecure: true}',
      '    PostgreSQL: {Connection: {password: pgpassword}}',
      '    Containers:',
      '      CloudVMs: {Driver: ec2}',
      extra,
      '    InstanceTypes:',
      '      small: {ProviderType: m5.large, VCPUs: 2, RAM: 8GiB, Price: 0.1, Preemptible: true}',
      '',
    ].join('\n'),
  ).cluster;
}

function config(c: Cluster, type: InstanceType = c.InstanceTypes.small, address = '10.0.0.5:2222'): { text: string; json: CrunchRunConfig } {
  const text = crunchRunConfigJSON({ cluster: c, instanceType: type, instanceAddress: address, uuid: UUID });
  return { text, json: JSON.parse(text) as CrunchRunConfig };
}

describe('worker/runner: the crunch-run config JSON', () => {
  it("builds Env as the reference's newRemoteRunner does, keys in Go's map order", () => {
    const { text, json } = config(cluster());
    assert.deepEqual(Object.keys(json), ['Env', 'KeepBuffers', 'EC2SpotCheck', 'Cluster']);
    assert.deepEqual(Object.keys(json.Env), [
      'ARVADOS_API_HOST',
      'ARVADOS_API_HOST_INSECURE',
      'ARVADOS_API_TOKEN',
      'GatewayAddress',
      'GatewayAuthSecret',
      'InstanceType',
    ]);
    assert.equal(json.Env.ARVADOS_API_HOST, 'ctrl.example:8443');
    assert.equal(json.Env.ARVADOS_API_TOKEN, 'roottoken0123456789abcdef0123456789');
    assert.equal(json.Env.ARVADOS_API_HOST_INSECURE, '1');
    assert.equal(json.Env.GatewayAddress, '10.0.0.5:0');
    assert.equal(json.Env.GatewayAuthSecret, createHmac('sha256', 'roottoken0123456789abcdef0123456789').update(UUID).digest('hex'));
    assert.equal(json.EC2SpotCheck, true);
    assert.match(text, /^\{"Env":\{"ARVADOS_API_HOST":"ctrl.example:8443",/);
    assert.equal(config(cluster(), undefined, '::1').json.Env.GatewayAddress, '[::1]:0');
  });

  it('takes the gateway host from an address in any form the drivers give, as Go splits and joins host and port', () => {
    const gateway = (address: string): string => config(cluster(), undefined, address).json.Env.GatewayAddress ?? '';
    assert.equal(gateway('[fd00::5]:2222'), '[fd00::5]:0', 'a bracketed IPv6 address with a port');
    assert.equal(gateway('fd00::5'), '[fd00::5]:0', 'a bare IPv6 address');
    assert.equal(gateway('10.0.0.5'), '10.0.0.5:0', 'a host with no port');
    assert.equal(gateway('vm1.example:22'), 'vm1.example:0', 'a name with a port');
  });

  it('writes InstanceType as the reference does: indented Go JSON without Name and Scratch', () => {
    const it = JSON.parse(config(cluster()).json.Env.InstanceType) as Record<string, unknown>;
    assert.deepEqual(Object.keys(it), ['ProviderType', 'VCPUs', 'RAM', 'IncludedScratch', 'AddedScratch', 'Price', 'Preemptible', 'GPU']);
    assert.equal(it.ProviderType, 'm5.large');
    assert.match(config(cluster()).json.Env.InstanceType, /^\{\n {4}"ProviderType": "m5.large",\n/);
  });

  it("leaves out the dispatcher's own SSH key and cloud credentials, and nothing else, from the config the workers get", () => {
    const key = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    const c = loadConfigText(
      [
        'Clusters:',
        '  zzzzz:',
        '    SystemRootToken: roottoken0123456789abcdef0123456789',
        '    Services: {Controller: {ExternalURL: "https://ctrl.example:8443/"}}',
        '    Volumes: {zzzzz-nyw5e-000000000000000: {Driver: S3, DriverParameters: {Bucket: b, AccessKeyID: volkey, SecretAccessKey: volsecret}}}',
        '    Containers:',
        '      DispatchPrivateKey: |',
        key.trimEnd().replace(/^/gm, '        '),
        '      CloudVMs:',
        '        Driver: ec2',
        '        DriverParameters: {AccessKeyID: AKIAcloudkey, SecretAccessKey: cloudsecret0123456789, Region: us-east-1}',
        '    InstanceTypes:',
        '      small: {ProviderType: m5.large, VCPUs: 2, RAM: 8GiB, Price: 0.1}',
        '',
      ].join('\n'),
    ).cluster;
    const { text, json } = config(c);
    for (const secret of ['cloudsecret0123456789', 'AKIAcloudkey', 'PRIVATE KEY']) assert.ok(!text.includes(secret), `${secret} sent to the worker`);
    const sent = json.Cluster as Record<string, any>;
    assert.equal(sent.Containers.DispatchPrivateKey, '');
    assert.deepEqual(sent.Containers.CloudVMs.DriverParameters, {});
    assert.equal(sent.Containers.CloudVMs.Driver, 'ec2');
    // The local keepstore's volumes keep their credentials: it needs them.
    assert.equal(sent.Volumes['zzzzz-nyw5e-000000000000000'].DriverParameters.SecretAccessKey, 'volsecret');
    // Everything else is the reference's encoding of the same config.
    const whole = JSON.parse(clusterJSON(c)) as Record<string, any>;
    whole.Containers.DispatchPrivateKey = '';
    whole.Containers.CloudVMs.DriverParameters = {};
    assert.deepEqual(sent, whole);
    assert.ok(clusterJSON(c).includes('cloudsecret0123456789'), "the reference's encoding has them (the test would see a leak)");
  });

  it('carries the cluster config when LocalKeepBlobBuffersPerVCPU > 0', () => {
    const c = cluster('      LocalKeepBlobBuffersPerVCPU: 3');
    const { text, json } = config(c);
    assert.equal(json.KeepBuffers, 6, 'LocalKeepBlobBuffersPerVCPU x VCPUs');
    assert.ok(text.endsWith(`,"Cluster":${workerClusterJSON(c)}}`), 'the Go encoding of the whole cluster config, last');
    const sent = json.Cluster as Record<string, any>;
    assert.equal(sent.ManagementToken, 'mgmttoken0123456789abcdef0123456789');
    assert.equal(sent.PostgreSQL.Connection.password, 'pgpassword');
    assert.equal(sent.Containers.LocalKeepBlobBuffersPerVCPU, 3);
    assert.equal(sent.Collections.BlobSigningTTL, '336h');
  });

  it('carries it on a default cluster (LocalKeepBlobBuffersPerVCPU defaults to 1)', () => {
    const { json } = config(cluster());
    assert.equal(json.KeepBuffers, 2);
    assert.equal((json.Cluster as Record<string, any>).SystemRootToken, 'roottoken0123456789abcdef0123456789');
  });

  it('sends Cluster null and KeepBuffers 0 when LocalKeepBlobBuffersPerVCPU is 0, as the reference does', () => {
    const { text, json } = config(cluster('      LocalKeepBlobBuffersPerVCPU: 0'));
    assert.equal(json.KeepBuffers, 0);
    assert.equal(json.Cluster, null);
    assert.ok(text.endsWith(',"Cluster":null}'));
    assert.doesNotMatch(text, /pgpassword|mgmttoken/);
  });

  it('a negative LocalKeepBlobBuffersPerVCPU means no local keepstore: no buffers, and no cluster config (with its secrets) on stdin', () => {
    const { text, json } = config(cluster('      LocalKeepBlobBuffersPerVCPU: -1'));
    assert.equal(json.KeepBuffers, 0);
    assert.equal(json.Cluster, null);
    assert.doesNotMatch(text, /pgpassword|mgmttoken/);
  });

  it('sets EC2SpotCheck only for preemptible types on the ec2 driver', () => {
    const c = cluster();
    assert.equal(config(c, { ...c.InstanceTypes.small, Preemptible: false }).json.EC2SpotCheck, false);
    const lame: Cluster = { ...c, Containers: { ...c.Containers, CloudVMs: { ...c.Containers.CloudVMs, Driver: 'lame' } } };
    assert.equal(config(lame).json.EC2SpotCheck, false);
  });

  it('passes an http controller URL whole, so crunch-run can reach it', () => {
    assert.equal(apiHostFor('http://127.0.0.1:4567'), 'http://127.0.0.1:4567');
    assert.equal(apiHostFor('https://ctrl.example'), 'ctrl.example');
  });
});
