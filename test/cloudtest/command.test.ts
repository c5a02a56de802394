/**
 * The cloudtest command's own rules, without a cloud: which instance type it
 * picks, how --pause-before-destroy waits, and what an interrupt stops.
 */
import assert from 'node:assert/strict';
import { chooseInstanceType } from '../../src/cloudtest/command.js';
import { loadConfigText } from '../../src/config/index.js';
import type { Cluster } from '../../src/config/types.js';

describe('cloudtest command', () => {

  it('without --instance-type: the cheapest type, and of two at the same price the one that is not preemptible', () => {
    const cluster: Cluster = loadConfigText(`
Clusters:
  zzzzz:
    InstanceTypes:
      a-spot:
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
        Preemptible: true
        ProviderType: t3.medium
      b-ondemand:
        VCPUs: 2
        RAM: 4GiB
        Price: 0.1
        ProviderType: t3.medium
      c-dear:
        VCPUs: 8
        RAM: 32GiB
        Price: 0.8
        ProviderType: t3.2xlarge
`).cluster;
    assert.equal(chooseInstanceType(cluster, undefined).Name, 'b-ondemand');
    assert.equal(chooseInstanceType(cluster, 'c-dear').Name, 'c-dear');
  });
});
