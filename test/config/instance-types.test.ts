import assert from 'node:assert/strict';
import { ConfigError, loadConfigText } from '../../src/config/load.js';

const GiB = 2 ** 30;

function config(containers: string, instanceTypes: string): string {
  return `Clusters:\n  zzzzz:\n    Containers:\n${containers}    InstanceTypes:\n${instanceTypes}`;
}

function errorsOf(text: string): string[] {
  try {
    loadConfigText(text);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.errors;
  }
  assert.fail('expected a ConfigError');
}

describe('config InstanceTypes', () => {
  describe('preemptible variants', () => {
    const TYPES = `      small:\n        VCPUs: 2\n        RAM: 4GiB\n        Price: 0.5\n        GPU: {Stack: cuda, DriverVersion: "12.0", HardwareTarget: "8.0", DeviceCount: 1, VRAM: 8GiB}\n      spot:\n        ProviderType: m5.spot\n        VCPUs: 4\n        RAM: 8GiB\n        Price: 0.3\n        Preemptible: true\n`;

    it('are added for every non-preemptible type when PreemptiblePriceFactor > 0', () => {
      const { cluster, warnings } = loadConfigText(config('      PreemptiblePriceFactor: 0.5\n', TYPES));
      assert.deepEqual(Object.keys(cluster.InstanceTypes), ['small', 'spot', 'small.preemptible']);
      const small = cluster.InstanceTypes.small;
      const variant = cluster.InstanceTypes['small.preemptible'];
      assert.deepEqual(variant, { ...small, Name: 'small.preemptible', Preemptible: true, Price: 0.25 });
      assert.equal(variant.ProviderType, 'small', 'same provider type as the original');
      assert.notEqual(variant.GPU, small.GPU, 'variants do not share objects with the original');
      assert.deepEqual(warnings.filter((w) => w.includes('preemptible')), []);
    });

    it('are not added when the factor is 0 (the default)', () => {
      const { cluster } = loadConfigText(config('      MaxDispatchAttempts: 5\n', TYPES));
      assert.deepEqual(Object.keys(cluster.InstanceTypes), ['small', 'spot']);
    });

    it('give way, with a warning, to a configured type of the same name', () => {
      const types = TYPES + `      small.preemptible:\n        ProviderType: other\n        VCPUs: 2\n        RAM: 4GiB\n        Price: 0.1\n        Preemptible: true\n`;
      const { cluster, warnings } = loadConfigText(config('      PreemptiblePriceFactor: 0.5\n', types));
      assert.equal(cluster.InstanceTypes['small.preemptible'].ProviderType, 'other');
      assert.ok(warnings.includes('Clusters.zzzzz.InstanceTypes.small.preemptible: already exists, so not automatically adding a preemptible variant of small'));
    });

    it('replace silently a configured type identical to the variant', () => {
      const types = `      a:\n        VCPUs: 1\n        RAM: 1GiB\n        Price: 1\n      a.preemptible:\n        ProviderType: a\n        VCPUs: 1\n        RAM: 1GiB\n        Price: 2\n        Preemptible: true\n`;
      const { cluster, warnings } = loadConfigText(config('      PreemptiblePriceFactor: 2\n', types));
      assert.equal(cluster.InstanceTypes['a.preemptible'].Price, 2);
      assert.deepEqual(warnings.filter((w) => w.includes('preemptible')), []);
    });
  });

  describe('scratch', () => {
    it('is IncludedScratch + AddedScratch, each defaulting to 0', () => {
      const { cluster } = loadConfigText(config('', `      a: {VCPUs: 1, RAM: 1GiB, IncludedScratch: 10GB, AddedScratch: 5GB}\n      b: {VCPUs: 1, RAM: 1GiB}\n`));
      assert.equal(cluster.InstanceTypes.a.Scratch, 15e9);
      assert.deepEqual([cluster.InstanceTypes.b.Scratch, cluster.InstanceTypes.b.IncludedScratch, cluster.InstanceTypes.b.AddedScratch], [0, 0, 0]);
    });

    it('accepts the total Scratch and derives the missing part, as Arvados does', () => {
      const { cluster } = loadConfigText(config('', `      a: {VCPUs: 1, RAM: 1GiB, Scratch: 100GB, IncludedScratch: 40GB}\n`));
      assert.deepEqual([cluster.InstanceTypes.a.IncludedScratch, cluster.InstanceTypes.a.AddedScratch], [40e9, 60e9]);
    });

    it('rejects a total that does not add up', () => {
      assert.deepEqual(errorsOf(config('', `      a: {VCPUs: 1, RAM: 1GiB, Scratch: 10GB, IncludedScratch: 4GB, AddedScratch: 4GB}\n`)), [
        'Clusters.zzzzz.InstanceTypes.a.Scratch: expected Scratch = IncludedScratch + AddedScratch, got 10000000000 != 4000000000 + 4000000000',
      ]);
    });
  });

  it('defaults ProviderType to the name, Price to 0 and Preemptible to false', () => {
    const { cluster } = loadConfigText(config('', `      c5.xlarge: {VCPUs: 4, RAM: 8GiB}\n`));
    const it = cluster.InstanceTypes['c5.xlarge'];
    assert.deepEqual([it.Name, it.ProviderType, it.Price, it.Preemptible, it.RAM], ['c5.xlarge', 'c5.xlarge', 0, false, 8 * GiB]);
  });

  it('rejects unknown keys, in the type and in its GPU', () => {
    assert.deepEqual(errorsOf(config('', `      a: {VCPUs: 1, RAM: 1GiB, Ram: 2GiB, GPU: {Count: 1}}\n`)).sort(), [
      'Clusters.zzzzz.InstanceTypes.a.GPU.Count: unknown key',
      'Clusters.zzzzz.InstanceTypes.a.Ram: unknown key (did you mean RAM?)',
    ]);
  });

  it('requires VCPUs and RAM', () => {
    assert.deepEqual(errorsOf(config('', `      a: {Price: 1}\n`)), [
      'Clusters.zzzzz.InstanceTypes.a.VCPUs: required: the number of virtual CPUs, a whole number > 0',
      'Clusters.zzzzz.InstanceTypes.a.RAM: required: the memory size, e.g. "16GiB"',
    ]);
  });

  it('accepts the older list form, named by Name', () => {
    const { cluster } = loadConfigText(config('', `      - {Name: a, VCPUs: 1, RAM: 1GiB}\n      - {Name: b, VCPUs: 2, RAM: 2GiB}\n`));
    assert.deepEqual(Object.keys(cluster.InstanceTypes), ['a', 'b']);
    assert.deepEqual(errorsOf(config('', `      - {Name: a, VCPUs: 1, RAM: 1GiB}\n      - {Name: a, VCPUs: 2, RAM: 2GiB}\n      - {VCPUs: 2, RAM: 2GiB}\n`)), [
      'Clusters.zzzzz.InstanceTypes.1.Name: duplicate instance type name "a"',
      'Clusters.zzzzz.InstanceTypes.2.Name: required in the list form of InstanceTypes',
    ]);
  });

  it('accepts the older CUDA section, with a warning', () => {
    const { cluster, warnings } = loadConfigText(config('', `      a:\n        VCPUs: 1\n        RAM: 1GiB\n        CUDA: {DriverVersion: "11.0", HardwareCapability: "9.0", DeviceCount: 2}\n`));
    assert.deepEqual(cluster.InstanceTypes.a.GPU, { Stack: 'cuda', DriverVersion: '11.0', HardwareTarget: '9.0', DeviceCount: 2, VRAM: 0 });
    assert.ok(warnings.some((w) => w.startsWith('Clusters.zzzzz.InstanceTypes.a.CUDA: deprecated')));
  });

  it('drops a SAMPLE entry', () => {
    const { cluster } = loadConfigText(config('', `      SAMPLE: {VCPUs: 1, RAM: 128MiB}\n      real: {VCPUs: 1, RAM: 1GiB}\n`));
    assert.deepEqual(Object.keys(cluster.InstanceTypes), ['real']);
  });
});
