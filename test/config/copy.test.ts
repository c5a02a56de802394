/**
 * The config file's section survives the copies that adapt a loaded cluster
 * to one run: crunch-run is given the whole cluster config, and a spread
 * copy would leave the file's section (not enumerable) behind.
 */
import assert from 'node:assert/strict';
import { workerClusterJSON } from '../../src/arvados/cluster-json/cluster.js';
import { passesFor } from '../../src/cloudtest/command.js';
import { copyCluster } from '../../src/config/copy.js';
import { loadConfigText } from '../../src/config/load.js';
import type { Cluster } from '../../src/config/types.js';
import { againstController } from '../../src/demo/run.js';
import { simCluster } from '../../src/sim/engine.js';
import { applyChange } from '../../src/suggest/candidates.js';

const FILE = `Clusters:
  zzzzz:
    Collections: {BlobSigningTTL: 1h}
    Containers:
      CloudVMs: {Driver: lame, MaxInstances: 3, DriverParameters: {SubnetID: [subnet-a, subnet-b]}}
    InstanceTypes:
      a: {VCPUs: 1, RAM: 1GiB, Price: 0.1}
`;

/** What crunch-run would be told of a key that only the file holds (this daemon does not compile Collections). */
function signingTTL(cluster: Cluster): unknown {
  return (JSON.parse(workerClusterJSON(cluster)) as { Collections: { BlobSigningTTL: unknown } }).Collections.BlobSigningTTL;
}

describe('copies of a loaded cluster', () => {
  const { cluster } = loadConfigText(FILE);

  it('the loaded cluster holds the file section, not enumerable', () => {
    assert.equal(signingTTL(cluster), '1h');
    assert.ok(!Object.keys(cluster).includes('RawSection'), 'RawSection is left out of the keys');
    assert.equal(JSON.stringify(cluster).includes('BlobSigningTTL'), false);
  });

  it('a spread copy loses it (which is why copyCluster exists)', () => {
    assert.equal(signingTTL({ ...cluster }), '336h');
  });

  it('copyCluster keeps it, not enumerable, and lays the changes over the copy only', () => {
    const copy = copyCluster(cluster, { ManagementToken: 'changed' });
    assert.equal(signingTTL(copy), '1h');
    assert.equal(copy.RawSection, cluster.RawSection);
    assert.ok(!Object.keys(copy).includes('RawSection'), 'RawSection is left out of the copy\'s keys');
    assert.equal(copy.ManagementToken, 'changed');
    assert.notEqual(cluster.ManagementToken, 'changed');
  });

  it('copyCluster of a cluster built in code (no file section) has none either', () => {
    const built: Cluster = { ...cluster };
    assert.equal(copyCluster(built, {}).RawSection, undefined);
  });

  it("the demo's, the simulator's, cloudtest's and the suggester's copies keep it", () => {
    const copies: Array<[string, Cluster]> = [
      ['againstController', againstController(cluster, 'http://127.0.0.1:1', { Seed: 1 })],
      ['simCluster', simCluster(cluster, 1, 'copy-test', [])],
      ...passesFor(cluster).map((p, i): [string, Cluster] => [`passesFor[${i}]`, p.cluster]),
      ['applyChange MaxInstances', applyChange({ kind: 'MaxInstances', value: 9, delta: 6 }, cluster, [], 'x').cluster],
      ['applyChange MaximumPriceFactor', applyChange({ kind: 'MaximumPriceFactor', value: 2, type: 'a' }, cluster, [], 'x').cluster],
    ];
    assert.equal(copies.length, 6);
    for (const [name, copy] of copies) assert.equal(signingTTL(copy), '1h', name);
  });
});
