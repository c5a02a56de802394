import assert from 'node:assert/strict';
import { statfsSync } from 'node:fs';
import { availableParallelism, tmpdir, totalmem } from 'node:os';
import { ConfigError } from '../../src/config/load.js';
import { loadUnlocated as loadConfigText } from './load-helpers.js';

function config(cloudVMs: string, instanceTypes = ''): string {
  return `Clusters:\n  zzzzz:\n    Containers:\n      CloudVMs:\n${cloudVMs}${instanceTypes ? `    InstanceTypes:\n${instanceTypes}` : ''}`;
}

const LOOPBACK = '        Enable: true\n        Driver: loopback\n';

describe('config InstanceTypes with the loopback driver', () => {
  it('none configured gives one implicit type, localhost, sized like this host', () => {
    const { cluster } = loadConfigText(config(LOOPBACK));
    assert.deepEqual(Object.keys(cluster.InstanceTypes), ['localhost']);
    const it = cluster.InstanceTypes.localhost;
    const fs = statfsSync(tmpdir());
    assert.deepEqual(
      { ...it, GPU: undefined },
      {
        Name: 'localhost',
        ProviderType: 'localhost',
        VCPUs: availableParallelism(),
        RAM: totalmem(),
        Scratch: fs.blocks * fs.bsize,
        IncludedScratch: fs.blocks * fs.bsize,
        AddedScratch: 0,
        Price: 1,
        Preemptible: false,
        GPU: undefined,
      },
    );
  });

  it('one configured type is used as configured', () => {
    const { cluster } = loadConfigText(config(LOOPBACK, '      a:\n        VCPUs: 9\n        RAM: 1GiB\n'));
    assert.deepEqual(Object.keys(cluster.InstanceTypes), ['a']);
    assert.equal(cluster.InstanceTypes.a.VCPUs, 9);
  });

  it('more than one configured type is an error', () => {
    assert.throws(
      () => loadConfigText(config(LOOPBACK, '      a:\n        VCPUs: 1\n        RAM: 1GiB\n      b:\n        VCPUs: 2\n        RAM: 1GiB\n')),
      (err: unknown) =>
        err instanceof ConfigError && err.errors.includes('Clusters.zzzzz.InstanceTypes: cannot use multiple InstanceTypes with loopback driver'),
    );
  });

  it('the implicit type gets its preemptible variant like any other', () => {
    const { cluster } = loadConfigText(`${config(LOOPBACK)}      PreemptiblePriceFactor: 0.5\n`);
    assert.deepEqual(Object.keys(cluster.InstanceTypes), ['localhost', 'localhost.preemptible']);
  });

  it('nothing is implied when CloudVMs is not enabled, or with another driver', () => {
    assert.deepEqual(Object.keys(loadConfigText(config('        Driver: loopback\n')).cluster.InstanceTypes), []);
    assert.deepEqual(Object.keys(loadConfigText(config('        Enable: true\n        Driver: lame\n')).cluster.InstanceTypes), []);
  });
});
