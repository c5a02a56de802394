/**
 * SAMPLE entries in a site's config file are real entries, as Arvados reads
 * them: its loader drops SAMPLE only from its own defaults, where such
 * entries show what a map's keys look like. Those the dispatcher would use
 * get a warning (most likely an example copied from config.default.yml).
 */
import assert from 'node:assert/strict';
import { loadUnlocated as loadConfigText } from './load-helpers.js';

const COPIED = "(only its own defaults' SAMPLE entries are examples): rename or remove it if it was copied from config.default.yml";

function load(cluster: string) {
  return loadConfigText(`Clusters:\n  zzzzz:\n${cluster}`);
}

describe('config: SAMPLE entries of the file', () => {
  it('tags every VM with a ResourceTags SAMPLE, and names a SAMPLE security group, each with a warning', () => {
    const { cluster, warnings } = load(
      '    Containers:\n      CloudVMs:\n        ResourceTags: {SAMPLE: "tag value", team: ops}\n        DriverParameters: {SecurityGroupIDs: {SAMPLE: {}, sg-1: {}}}\n',
    );
    const vms = cluster.Containers.CloudVMs;
    assert.deepEqual(vms.ResourceTags, { SAMPLE: 'tag value', team: 'ops' });
    assert.deepEqual(vms.DriverParameters.SecurityGroupIDs, { SAMPLE: {}, 'sg-1': {} });
    assert.ok(warnings.includes(`Clusters.zzzzz.Containers.CloudVMs.ResourceTags.SAMPLE: a tag named SAMPLE on every VM, as Arvados reads it ${COPIED}`), warnings.join('\n'));
    assert.ok(
      warnings.includes(`Clusters.zzzzz.Containers.CloudVMs.DriverParameters.SecurityGroupIDs.SAMPLE: a security group ID "SAMPLE" for every VM, as Arvados reads it ${COPIED}`),
      warnings.join('\n'),
    );
  });

  it('leaves out an InternalURLs SAMPLE, which is no URL, with a warning rather than an error', () => {
    const { cluster, warnings } = load('    Services:\n      DispatchCloud:\n        InternalURLs: {SAMPLE: {ListenURL: ""}, "http://localhost:9006": {}}\n');
    assert.deepEqual(cluster.Services.DispatchCloud.InternalURLs, ['http://localhost:9006']);
    assert.ok(warnings.includes('Clusters.zzzzz.Services.DispatchCloud.InternalURLs.SAMPLE: not a URL: ignored (config.default.yml has this entry as an example)'));
  });

  it('says nothing of a SAMPLE key the dispatcher does not use, and does not call it an unknown key, as Arvados does not', () => {
    const { warnings } = load('    Containers:\n      SAMPLE: {Bogus: 1}\n    RemoteClusters:\n      SAMPLE: {Host: sample.arvadosapi.com}\n    Volumes:\n      SAMPLE: {Driver: S3, Replication: 2}\n');
    assert.deepEqual(
      warnings.filter((w) => w.includes('SAMPLE')),
      [],
    );
  });
});
