/**
 * Null values in the file, as Arvados reads them: it deletes every null map
 * entry at any depth before merging the file over its defaults, so a null
 * scalar is the default and a null entry of a map of names is no entry.
 */
import assert from 'node:assert/strict';
import { clusterJSON } from '../../src/arvados/cluster-json/cluster.js';
import { loadUnlocated as loadConfigText } from './load-helpers.js';

function load(cluster: string) {
  return loadConfigText(`Clusters:\n  zzzzz:\n${cluster}`);
}

describe('config: null values', () => {
  it('a null instance type is no type: not compiled, not warned about, not listed', () => {
    const { cluster, warnings } = load('    InstanceTypes:\n      x: ~\n      real: {VCPUs: 2, RAM: 4GiB, Price: 1}\n');
    assert.deepEqual(Object.keys(cluster.InstanceTypes), ['real']);
    assert.deepEqual(
      warnings.filter((w) => w.includes('InstanceTypes.x')),
      [],
    );
  });

  it('a null tag is no tag, on the VMs or in the config crunch-run gets', () => {
    const { cluster } = load('    Containers:\n      CloudVMs:\n        ResourceTags: {k: ~, team: ops}\n');
    assert.deepEqual(cluster.Containers.CloudVMs.ResourceTags, { team: 'ops' });
    assert.deepEqual(JSON.parse(clusterJSON(cluster)).Containers.CloudVMs.ResourceTags, { team: 'ops' });
  });

  it('a null InternalURLs entry is no URL to listen on', () => {
    const { cluster, warnings } = load('    Services:\n      DispatchCloud:\n        InternalURLs:\n          "http://localhost:9006": ~\n');
    assert.deepEqual(cluster.Services.DispatchCloud.InternalURLs, []);
    assert.ok(warnings.some((w) => w.startsWith('Clusters.zzzzz.Services.DispatchCloud.InternalURLs: empty, so the daemon has no address to listen on')));
  });

  it('a null driver parameter is absent, so the driver takes its default', () => {
    const { cluster } = load('    Containers:\n      CloudVMs:\n        DriverParameters: {Region: us-east-1, SubnetID: ~, Nested: {A: ~, B: 1}, List: [~, 1]}\n');
    assert.deepEqual(cluster.Containers.CloudVMs.DriverParameters, { Region: 'us-east-1', Nested: { B: 1 }, List: [null, 1] }, 'lists are left as they are, as Arvados leaves them');
  });

  it('a null scalar still means the default', () => {
    const { cluster } = load(
      '    SystemRootToken: ~\n    TLS: {Insecure: ~}\n    Containers:\n      DispatchPrivateKey: ~\n      MaximumPriceFactor: ~\n      CloudVMs: {MaxInstances: ~, TimeoutIdle: ~, Driver: ~}\n',
    );
    assert.equal(cluster.SystemRootToken, '');
    assert.equal(cluster.TLS.Insecure, false);
    assert.equal(cluster.Containers.DispatchPrivateKey, '');
    assert.equal(cluster.Containers.MaximumPriceFactor, 1.5);
    assert.deepEqual([cluster.Containers.CloudVMs.MaxInstances, cluster.Containers.CloudVMs.TimeoutIdle, cluster.Containers.CloudVMs.Driver], [64, 60_000, 'ec2']);
  });

  it('a null cluster section is a cluster with every default; a null unknown key is still named', () => {
    assert.equal(loadConfigText('Clusters:\n  zzzzz: ~\n').cluster.Containers.CloudVMs.MaxInstances, 64);
    assert.ok(load('    Bogus: ~\n').warnings.includes('Clusters.zzzzz.Bogus: unknown key'));
  });
});
