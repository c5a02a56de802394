import assert from 'node:assert/strict';
import { ConfigError } from '../../src/config/load.js';
import { loadUnlocated as loadConfigText } from './load-helpers.js';

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

    it('ignores a Scratch key, with a warning, as Arvados ignores it (even one that does not add up)', () => {
      const { cluster, warnings } = loadConfigText(config('', `      a: {VCPUs: 1, RAM: 1GiB, Scratch: 100GB, IncludedScratch: 40GB}\n`));
      assert.deepEqual([cluster.InstanceTypes.a.Scratch, cluster.InstanceTypes.a.IncludedScratch, cluster.InstanceTypes.a.AddedScratch], [40e9, 40e9, 0]);
      assert.ok(warnings.includes('Clusters.zzzzz.InstanceTypes.a.Scratch: ignored, as Arvados ignores it: the scratch space of a type is IncludedScratch + AddedScratch'));
    });
  });

  it('defaults ProviderType to the name, Price to 0 and Preemptible to false', () => {
    const { cluster } = loadConfigText(config('', `      c5.xlarge: {VCPUs: 4, RAM: 8GiB}\n`));
    const it = cluster.InstanceTypes['c5.xlarge'];
    assert.deepEqual([it.Name, it.ProviderType, it.Price, it.Preemptible, it.RAM], ['c5.xlarge', 'c5.xlarge', 0, false, 8 * GiB]);
  });

  it('an unknown key in a type or its GPU section is a warning with its path, not fatal', () => {
    const { cluster, warnings } = loadConfigText(config('', `      a: {VCPUs: 1, RAM: 1GiB, Ram: 2GiB, Name: b, GPU: {Count: 1}}\n`));
    assert.equal(cluster.InstanceTypes.a.RAM, 2 ** 30);
    assert.equal(cluster.InstanceTypes.a.Name, 'a');
    assert.deepEqual(warnings.slice(0, 3), [
      'Clusters.zzzzz.InstanceTypes.a.Ram: unknown key (did you mean RAM?)',
      'Clusters.zzzzz.InstanceTypes.a.Name: ignored: the name of a type is its key under InstanceTypes',
      'Clusters.zzzzz.InstanceTypes.a.GPU.Count: unknown key',
    ]);
  });

  it('keeps a type without VCPUs or RAM, with a warning, as Arvados keeps it: no container fits it', () => {
    const { cluster, warnings } = loadConfigText(config('', `      a: {Price: 1}\n      b: {VCPUs: 0, RAM: 0}\n`));
    assert.deepEqual(Object.keys(cluster.InstanceTypes), ['a', 'b']);
    assert.deepEqual([cluster.InstanceTypes.a.VCPUs, cluster.InstanceTypes.a.RAM], [0, 0]);
    assert.deepEqual(warnings.slice(0, 4), [
      'Clusters.zzzzz.InstanceTypes.a.VCPUs: absent: no container fits this type (give the number of virtual CPUs)',
      'Clusters.zzzzz.InstanceTypes.a.RAM: absent: no container fits this type (give the memory size, e.g. "16GiB")',
      'Clusters.zzzzz.InstanceTypes.b.VCPUs: is 0: no container fits this type (give the number of virtual CPUs)',
      'Clusters.zzzzz.InstanceTypes.b.RAM: is 0: no container fits this type (give the memory size, e.g. "16GiB")',
    ]);
  });

  it('accepts the older list form, named by Name, with a warning that the reference refuses it', () => {
    const { cluster, warnings } = loadConfigText(config('', `      - {Name: a, VCPUs: 1, RAM: 1GiB}\n      - {Name: b, VCPUs: 2, RAM: 2GiB}\n`));
    assert.deepEqual(Object.keys(cluster.InstanceTypes), ['a', 'b']);
    assert.deepEqual(
      warnings.filter((w) => w.startsWith('Clusters.zzzzz.InstanceTypes:')),
      [
        'Clusters.zzzzz.InstanceTypes: the reference dispatcher refuses this (InstanceTypes must be a mapping keyed by type name, not the old list form); switching back to it would fail to start',
      ],
    );
    assert.deepEqual(errorsOf(config('', `      - {Name: a, VCPUs: 1, RAM: 1GiB}\n      - {Name: a, VCPUs: 2, RAM: 2GiB}\n      - {VCPUs: 2, RAM: 2GiB}\n`)), [
      'Clusters.zzzzz.InstanceTypes.1.Name: duplicate instance type name "a"',
      'Clusters.zzzzz.InstanceTypes.2.Name: required in the list form of InstanceTypes',
    ]);
  });

  describe('GPU', () => {
    const CUDA = 'CUDA: {DriverVersion: "11.0", HardwareCapability: "9.0", DeviceCount: 2}';
    const NO_GPU = { Stack: '', DriverVersion: '', HardwareTarget: '', DeviceCount: 0, VRAM: 0 };

    it('legacy CUDA section compiles as the reference\'s: ignored with a warning, so the type has no GPU', () => {
      const { cluster, warnings } = loadConfigText(config('', `      a:\n        VCPUs: 1\n        RAM: 1GiB\n        ${CUDA}\n`));
      assert.deepEqual(cluster.InstanceTypes.a.GPU, NO_GPU);
      assert.deepEqual(warnings.filter((w) => w.includes('.CUDA:')), [
        'Clusters.zzzzz.InstanceTypes.a.CUDA: no longer read (Arvados 3.3 dropped the CUDA section), so this type has no GPU unless it has a GPU section: write GPU with Stack: cuda, DriverVersion, HardwareTarget (the old HardwareCapability), DeviceCount and VRAM',
      ]);
    });

    it('a type may have both CUDA and GPU sections: GPU is used, CUDA ignored with a warning', () => {
      const gpu = 'GPU: {Stack: cuda, DriverVersion: "12.0", HardwareTarget: "8.0", DeviceCount: 1, VRAM: 16GiB}';
      const { cluster, warnings } = loadConfigText(config('', `      a:\n        VCPUs: 1\n        RAM: 1GiB\n        ${CUDA}\n        ${gpu}\n`));
      assert.deepEqual(cluster.InstanceTypes.a.GPU, { Stack: 'cuda', DriverVersion: '12.0', HardwareTarget: '8.0', DeviceCount: 1, VRAM: 16 * GiB });
      assert.ok(warnings.some((w) => w.startsWith('Clusters.zzzzz.InstanceTypes.a.CUDA: no longer read')));
    });

    it('refuses, as Arvados does, a type with GPUs whose DriverVersion is not a number', () => {
      assert.deepEqual(errorsOf(config('', `      a: {VCPUs: 1, RAM: 1GiB, GPU: {Stack: cuda, DriverVersion: "12.4.1", HardwareTarget: "8.0", DeviceCount: 1, VRAM: 1GiB}}\n`)), [
        'Clusters.zzzzz.InstanceTypes.a.GPU.DriverVersion: expected a version like "12.4" (a number, as Arvados reads it), got "12.4.1"',
      ]);
      // Without GPUs the version is not looked at.
      loadConfigText(config('', `      a: {VCPUs: 1, RAM: 1GiB, GPU: {DriverVersion: latest}}\n`));
    });

    it('refuses, as Arvados does, a DriverVersion that is not a number when DeviceCount is negative', () => {
      assert.deepEqual(errorsOf(config('', `      a: {VCPUs: 1, RAM: 1GiB, GPU: {DeviceCount: -1}}\n`)), [
        'Clusters.zzzzz.InstanceTypes.a.GPU.DriverVersion: expected a version like "12.4" (a number, as Arvados reads it), got ""',
      ]);
    });

    it('accepts, with warnings, what Arvados accepts but makes the GPUs unusable: no stack, a bad compute capability, no VRAM', () => {
      const { cluster, warnings } = loadConfigText(
        config('', `      a: {VCPUs: 1, RAM: 1GiB, GPU: {DriverVersion: "1e1", DeviceCount: 1, VRAM: 1GiB}}\n      b: {VCPUs: 1, RAM: 1GiB, GPU: {Stack: cuda, DriverVersion: "12", HardwareTarget: sm_90, DeviceCount: 1}}\n`),
      );
      assert.equal(cluster.InstanceTypes.a.GPU.DriverVersion, '1e1', 'a number to Go, so Arvados takes it');
      assert.deepEqual(warnings.filter((w) => w.includes('.GPU.')), [
        'Clusters.zzzzz.InstanceTypes.a.GPU.Stack: empty, so no container can use the GPUs of this type (expected "cuda" or "rocm")',
        'Clusters.zzzzz.InstanceTypes.b.GPU.HardwareTarget: expected a CUDA compute capability like "9.0", got "sm_90": containers that ask for a minimum capability will not run on this type',
        'Clusters.zzzzz.InstanceTypes.b.GPU.VRAM: not given: containers that ask for GPU memory will not run on this type',
      ]);
    });
  });

  it('keeps a type named SAMPLE, as Arvados does with a site\'s file, with a warning that it may be a copied example', () => {
    const { cluster, warnings } = loadConfigText(config('', `      SAMPLE: {VCPUs: 1, RAM: 128MiB}\n      real: {VCPUs: 1, RAM: 1GiB}\n`));
    assert.deepEqual(Object.keys(cluster.InstanceTypes), ['SAMPLE', 'real']);
    assert.equal(cluster.InstanceTypes.SAMPLE.RAM, 128 * 2 ** 20);
    assert.ok(
      warnings.includes(
        "Clusters.zzzzz.InstanceTypes.SAMPLE: an instance type named SAMPLE, as Arvados reads it (only its own defaults' SAMPLE entries are examples): rename or remove it if it was copied from config.default.yml",
      ),
      warnings.join('\n'),
    );
  });

  it('takes a rocm GPU type without a warning, as it takes a cuda one', () => {
    const { cluster, warnings } = loadConfigText(
      config('', `      a: {VCPUs: 1, RAM: 1GiB, GPU: {Stack: rocm, DriverVersion: "6.1", HardwareTarget: gfx90a, DeviceCount: 1, VRAM: 64GiB}}\n`),
    );
    assert.equal(cluster.InstanceTypes.a.GPU.Stack, 'rocm');
    assert.deepEqual(warnings.filter((w) => w.includes('.GPU')), []);
  });
});
