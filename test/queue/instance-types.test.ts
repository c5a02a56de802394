/**
 * Instance type choice, one rule per test (ARVADOS.md section 5 and the
 * reference's node_size.go and its tests).
 */
import assert from 'node:assert/strict';
import type { Container } from '../../src/arvados/types.js';
import { type Cluster, loadConfigText } from '../../src/config/index.js';
import {
  chooseInstanceTypes,
  ConstraintsNotSatisfiableError,
  estimateImageSize,
  estimateScratchSpace,
  instanceResourcesNeeded,
  NoInstanceTypesError,
} from '../../src/queue/instance-types.js';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

/** A cluster with these `InstanceTypes` (YAML flow maps, one per line) and `Containers` settings. */
function cluster(types: Record<string, string>, containers: Record<string, string | number> = {}): Cluster {
  const c = Object.entries(containers).map(([k, v]) => `      ${k}: ${v}\n`).join('');
  const t = Object.entries(types).map(([k, v]) => `      ${k}: ${v}\n`).join('');
  return loadConfigText(`Clusters:\n  zzzzz:\n    Containers:\n${c || '      {}\n'}    InstanceTypes:\n${t || '      {}\n'}`).cluster;
}

/** Settings that make RAM arithmetic easy to follow: no reserve, no local keepstore. */
const PLAIN = { ReserveExtraRAM: 0, LocalKeepBlobBuffersPerVCPU: 0 };

function ctr(o: { vcpus?: number; ram?: number; image?: string; mounts?: Container['mounts']; preemptible?: boolean } & Partial<Container['runtime_constraints']> = {}): Container {
  const { vcpus = 1, ram = GiB, image = 'd41d8cd98f00b204e9800998ecf8427e+0', mounts = {}, preemptible, ...rc } = o;
  return {
    uuid: 'zzzzz-dz642-000000000000001',
    state: 'Queued',
    priority: 1,
    runtime_constraints: { vcpus, ram, ...rc },
    scheduling_parameters: preemptible === undefined ? {} : { preemptible },
    mounts,
    container_image: image,
    created_at: '2026-01-01T00:00:00.000000000Z',
  };
}

const names = (c: Cluster, container: Container): string[] => chooseInstanceTypes(c, container).map((t) => t.Name);

describe('instance type choice', () => {
  describe('image size estimate', () => {
    it('is floor((n - 80) / 42) x 64 MiB for a manifest of n >= 122 bytes', () => {
      assert.equal(estimateImageSize('fa3c1a9cb6783f85f2ecda037e07b8c3+342'), 402653184);
      assert.equal(estimateImageSize('fa3c1a9cb6783f85f2ecda037e07b8c3+122'), 64 * MiB);
      assert.equal(estimateImageSize('fa3c1a9cb6783f85f2ecda037e07b8c3+121'), 0);
    });

    it('is 0 for anything that is not a plain portable data hash', () => {
      assert.equal(estimateImageSize('arvados/jobs:latest'), 0);
      assert.equal(estimateImageSize('FA3C1A9CB6783F85F2ECDA037E07B8C3+342'), 0);
      assert.equal(estimateImageSize('fa3c1a9cb6783f85f2ecda037e07b8c3+342+Afoo@1234'), 0);
    });
  });

  describe('scratch', () => {
    it('counts the image twice when there is no tmp mount (+342: 805306368)', () => {
      assert.equal(estimateScratchSpace(ctr({ image: 'fa3c1a9cb6783f85f2ecda037e07b8c3+342' })), 805306368);
    });

    it('sums tmp mounts only', () => {
      const mounts = {
        '/tmp': { kind: 'tmp', capacity: GiB },
        '/var/spool/cwl': { kind: 'tmp', capacity: 2 * GiB },
        '/keep': { kind: 'collection', capacity: 100 * GiB },
      };
      assert.equal(estimateScratchSpace(ctr({ mounts })), 3 * GiB);
    });

    it('takes at least the image size for the tmp part, then adds the image and keep_cache_disk', () => {
      const image = 'fa3c1a9cb6783f85f2ecda037e07b8c3+342';
      const small = { '/tmp': { kind: 'tmp', capacity: 100 * MiB } };
      assert.equal(estimateScratchSpace(ctr({ image, mounts: small })), 402653184 * 2);
      const big = { '/tmp': { kind: 'tmp', capacity: GiB } };
      assert.equal(estimateScratchSpace(ctr({ image, mounts: big, keep_cache_disk: 5 * GiB })), GiB + 402653184 + 5 * GiB);
    });

    it('counts a tmp mount the controller sent without a capacity as 0, as Go reads a missing capacity', () => {
      const image = 'fa3c1a9cb6783f85f2ecda037e07b8c3+342';
      const mounts = { '/tmp': { kind: 'tmp' }, '/var/spool/cwl': { kind: 'tmp', capacity: GiB } };
      assert.equal(estimateScratchSpace(ctr({ image, mounts })), GiB + 402653184);
      const c = cluster({ short: `{VCPUs: 1, RAM: 4GiB, Price: 1, IncludedScratch: ${GiB + 402653184 - 1}}`, ok: '{VCPUs: 1, RAM: 4GiB, Price: 2, IncludedScratch: 2GiB}' }, PLAIN);
      assert.deepEqual(names(c, ctr({ image, mounts })), ['ok'], 'the type short of the rest of the need is still ruled out');
    });

    it('rules out a type whose Scratch is one byte short', () => {
      const mounts = { '/tmp': { kind: 'tmp', capacity: 10 * GiB } };
      const c = cluster({ short: `{VCPUs: 1, RAM: 4GiB, Price: 1, IncludedScratch: ${10 * GiB - 1}}`, ok: '{VCPUs: 1, RAM: 4GiB, Price: 2, IncludedScratch: 10GiB}' }, PLAIN);
      assert.deepEqual(names(c, ctr({ mounts })), ['ok']);
    });
  });

  describe('RAM', () => {
    it('adds keep_cache_ram, ReserveExtraRAM, the local keepstore and its buffers, then x 100 / 95', () => {
      const c = cluster({}, { ReserveExtraRAM: '550MiB', LocalKeepBlobBuffersPerVCPU: 1 });
      const need = instanceResourcesNeeded(c, ctr({ vcpus: 2, ram: GiB, keep_cache_ram: 256 * MiB }));
      // Integer arithmetic, checked independently with BigInt.
      let want = BigInt(GiB + 256 * MiB + 550 * MiB) + 220n * BigInt(MiB) + (1n * 2n * 64n * BigInt(MiB) * 11n) / 10n;
      want = (want * 100n) / 95n;
      assert.equal(need.ram, Number(want));
    });

    it('has no keepstore part when LocalKeepBlobBuffersPerVCPU is 0', () => {
      const c = cluster({}, { ReserveExtraRAM: '550MiB', LocalKeepBlobBuffersPerVCPU: 0 });
      assert.equal(instanceResourcesNeeded(c, ctr({ ram: GiB })).ram, Math.floor(((GiB + 550 * MiB) * 100) / 95));
    });

    it('rounds down exactly (integer division)', () => {
      const c = cluster({}, PLAIN);
      // 123456789 x 100 / 95 = 129954514.736...
      assert.equal(instanceResourcesNeeded(c, ctr({ ram: 123456789 })).ram, 129954514);
      assert.equal(instanceResourcesNeeded(c, ctr({ ram: 95 })).ram, 100);
    });

    it('rules out a type one byte short of the need, and takes one exactly at it', () => {
      const need = Math.floor((GiB * 100) / 95);
      const c = cluster({ short: `{VCPUs: 1, RAM: ${need - 1}, Price: 1}`, exact: `{VCPUs: 1, RAM: ${need}, Price: 2}` }, PLAIN);
      assert.deepEqual(names(c, ctr({ ram: GiB })), ['exact']);
    });
  });

  it('needs at least the VCPUs asked for', () => {
    const c = cluster({ one: '{VCPUs: 1, RAM: 8GiB, Price: 1}', four: '{VCPUs: 4, RAM: 8GiB, Price: 2}' }, PLAIN);
    assert.deepEqual(names(c, ctr({ vcpus: 2 })), ['four']);
    assert.equal(instanceResourcesNeeded(c, ctr({ vcpus: 2 })).vcpus, 2);
  });

  describe('preemptible', () => {
    const c = cluster({ a: '{VCPUs: 2, RAM: 8GiB, Price: 1}' }, { ...PLAIN, PreemptiblePriceFactor: 0.5 });

    it('must equal scheduling_parameters.preemptible', () => {
      assert.deepEqual(names(c, ctr({ preemptible: true })), ['a.preemptible']);
      assert.deepEqual(names(c, ctr({ preemptible: false })), ['a']);
      assert.deepEqual(names(c, ctr()), ['a'], 'absent means false');
    });

    it('is not forced by AlwaysUsePreemptibleInstances (the API server applies that when it creates the container)', () => {
      const always = cluster({ a: '{VCPUs: 2, RAM: 8GiB, Price: 1}' }, { ...PLAIN, PreemptiblePriceFactor: 0.5, AlwaysUsePreemptibleInstances: 'true' });
      assert.deepEqual(names(always, ctr()), ['a']);
    });
  });

  describe('GPU', () => {
    const gpu = (stack: string, driver: string, target: string, count: number, vram = '0') =>
      `{VCPUs: 8, RAM: 64GiB, Price: 1, GPU: {Stack: ${stack}, DriverVersion: "${driver}", HardwareTarget: "${target}", DeviceCount: ${count}, VRAM: ${vram}}}`;
    const want = (o: Partial<NonNullable<Container['runtime_constraints']['gpu']>>) =>
      ctr({ gpu: { stack: 'cuda', driver_version: '12.0', hardware_target: ['8.0'], device_count: 1, vram: 0, ...o } });

    it('needs the same stack: no GPU type for a container without GPUs, and no mixing cuda and rocm', () => {
      const c = cluster({ cpu: '{VCPUs: 8, RAM: 64GiB, Price: 5}', cuda: gpu('cuda', '12.0', '8.0', 1), rocm: gpu('rocm', '6.0', 'gfx1100', 1) }, PLAIN);
      assert.deepEqual(names(c, ctr()), ['cpu']);
      assert.deepEqual(names(c, want({})), ['cuda']);
      assert.deepEqual(names(c, want({ stack: 'rocm', driver_version: '6.0', hardware_target: ['gfx1100'] })), ['rocm']);
    });

    it('compares driver versions as numbers', () => {
      const c = cluster({ old: gpu('cuda', '11.8', '8.0', 1), same: gpu('cuda', '12.0', '8.0', 1), newer: gpu('cuda', '12.4', '8.0', 1) }, PLAIN);
      assert.deepEqual(names(c, want({ driver_version: '12.0' })).sort(), ['newer', 'same']);
      // As the reference (strconv.ParseFloat): "12.10" is 12.1, below "12.4".
      const c2 = cluster({ t: gpu('cuda', '12.10', '8.0', 1) }, PLAIN);
      assert.throws(() => chooseInstanceTypes(c2, want({ driver_version: '12.4' })), ConstraintsNotSatisfiableError);
    });

    it('fits nothing when the driver version asked for does not parse (as the reference)', () => {
      const c = cluster({ t: gpu('cuda', '12.0', '8.0', 1) }, PLAIN);
      assert.throws(() => chooseInstanceTypes(c, want({ driver_version: '' })), ConstraintsNotSatisfiableError);
    });

    it('needs device_count devices', () => {
      const c = cluster({ one: gpu('cuda', '12.0', '8.0', 1), four: gpu('cuda', '12.0', '8.0', 4) }, PLAIN);
      assert.deepEqual(names(c, want({ device_count: 2 })), ['four']);
      assert.equal(instanceResourcesNeeded(c, want({ device_count: 2 })).gpus, 2);
    });

    it('needs vram per device', () => {
      const c = cluster({ small: gpu('cuda', '12.0', '8.0', 1, '8GiB'), big: gpu('cuda', '12.0', '8.0', 1, '24GiB'), exact: gpu('cuda', '12.0', '8.0', 1, '16GiB') }, PLAIN);
      assert.deepEqual(names(c, want({ vram: 16 * GiB })).sort(), ['big', 'exact']);
      assert.equal(instanceResourcesNeeded(c, want({ vram: 16 * GiB })).gpuVRAM, 16 * GiB);
    });

    it('a type without VRAM is not eligible for a container that asks for VRAM (as the reference since 3.3), but is for one that does not', () => {
      const c = cluster({ unknown: gpu('cuda', '12.0', '8.0', 1) }, PLAIN);
      assert.throws(() => chooseInstanceTypes(c, want({ vram: 1 })), ConstraintsNotSatisfiableError);
      assert.deepEqual(names(c, want({ vram: 0 })), ['unknown']);
    });

    it('CUDA: one hardware target is a minimum, several are a list to match exactly', () => {
      const c = cluster({ t75: gpu('cuda', '12.0', '7.5', 1), t80: gpu('cuda', '12.0', '8.0', 1), t86: gpu('cuda', '12.0', '8.6', 1), t90: gpu('cuda', '12.0', '9.0', 1) }, PLAIN);
      assert.deepEqual(names(c, want({ hardware_target: ['8.0'] })).sort(), ['t80', 't86', 't90']);
      assert.deepEqual(names(c, want({ hardware_target: ['8.0', '9.0'] })).sort(), ['t80', 't90']);
      assert.throws(() => chooseInstanceTypes(c, want({ hardware_target: [] })), ConstraintsNotSatisfiableError);
    });

    it('ROCm: the type target must be one of those asked for', () => {
      const c = cluster({ a: gpu('rocm', '6.0', 'gfx1100', 1), b: gpu('rocm', '6.0', 'gfx90a', 1) }, PLAIN);
      assert.deepEqual(names(c, want({ stack: 'rocm', driver_version: '6.0', hardware_target: ['gfx90a'] })), ['b']);
    });

    it('checks driver version and hardware target only for a container that asks for devices (the stack must match all the same)', () => {
      const c = cluster({ cpu: '{VCPUs: 8, RAM: 64GiB, Price: 0.5}', cuda: gpu('cuda', '11.0', '7.0', 1) }, PLAIN);
      const none = want({ device_count: 0, driver_version: '', hardware_target: [] });
      assert.deepEqual(names(c, none), ['cuda'], 'an unparsable driver version and no target do not matter with 0 devices');
      assert.throws(() => chooseInstanceTypes(c, { ...none, runtime_constraints: { ...none.runtime_constraints, gpu: { ...none.runtime_constraints.gpu!, device_count: 1 } } }), ConstraintsNotSatisfiableError);
    });

    it('refuses an unknown stack with the reference message', () => {
      const c = cluster({ a: gpu('cuda', '12.0', '8.0', 1) }, PLAIN);
      assert.throws(() => chooseInstanceTypes(c, want({ stack: 'opencl' })), {
        name: 'ConstraintsNotSatisfiableError',
        message: `Invalid GPU stack "opencl", expected to be blank or one of 'cuda' or 'rocm'`,
      });
    });
  });

  describe('price', () => {
    const menu = {
      cheap: '{VCPUs: 2, RAM: 8GiB, Price: 1.0}',
      mid: '{VCPUs: 4, RAM: 16GiB, Price: 1.4}',
      edge: '{VCPUs: 4, RAM: 16GiB, Price: 1.5}',
      dear: '{VCPUs: 8, RAM: 32GiB, Price: 1.6}',
      tiny: '{VCPUs: 1, RAM: 1GiB, Price: 0.1}',
    };

    it('keeps the fitting types within MaximumPriceFactor x the cheapest fitting one', () => {
      assert.deepEqual(names(cluster(menu, { ...PLAIN, MaximumPriceFactor: 1.5 }), ctr({ vcpus: 2, ram: 4 * GiB })), ['cheap', 'mid', 'edge']);
      assert.deepEqual(names(cluster(menu, { ...PLAIN, MaximumPriceFactor: 2 }), ctr({ vcpus: 2, ram: 4 * GiB })), ['cheap', 'mid', 'edge', 'dear']);
    });

    it('treats a factor below 1 as 1', () => {
      const same = { ...menu, twin: '{VCPUs: 2, RAM: 8GiB, Price: 1.0}' };
      assert.deepEqual(names(cluster(same, { ...PLAIN, MaximumPriceFactor: 0.5 }), ctr({ vcpus: 2, ram: 4 * GiB })), ['cheap', 'twin']);
    });

    it('orders by price, then the bigger type first (RAM, VCPUs, scratch), then by name', () => {
      const c = cluster(
        {
          b: '{VCPUs: 4, RAM: 8GiB, Price: 1}',
          a: '{VCPUs: 4, RAM: 8GiB, Price: 1}',
          moreRAM: '{VCPUs: 2, RAM: 16GiB, Price: 1}',
          moreCPU: '{VCPUs: 8, RAM: 8GiB, Price: 1}',
          moreDisk: '{VCPUs: 4, RAM: 8GiB, Price: 1, IncludedScratch: 100GiB}',
          cheaper: '{VCPUs: 2, RAM: 4GiB, Price: 0.5}',
        },
        { ...PLAIN, MaximumPriceFactor: 3 },
      );
      assert.deepEqual(names(c, ctr({ vcpus: 1, ram: GiB })), ['cheaper', 'moreRAM', 'moreCPU', 'moreDisk', 'a', 'b']);
    });
  });

  describe('negative values, used as given, as the reference uses them', () => {
    it('MaximumPriceFactor -1 is as 1: only the types priced as the cheapest that fits', () => {
      const menu = { cheap: '{VCPUs: 2, RAM: 8GiB, Price: 1.0}', mid: '{VCPUs: 4, RAM: 16GiB, Price: 1.4}' };
      assert.deepEqual(names(cluster(menu, { ...PLAIN, MaximumPriceFactor: -1 }), ctr({ vcpus: 2, ram: 4 * GiB })), ['cheap']);
    });

    it('LocalKeepBlobBuffersPerVCPU -1 adds no keepstore RAM; a negative ReserveExtraRAM is subtracted', () => {
      const c = cluster({}, { ReserveExtraRAM: '-256MiB', LocalKeepBlobBuffersPerVCPU: -1 });
      assert.equal(instanceResourcesNeeded(c, ctr({ vcpus: 2, ram: GiB })).ram, Math.floor(((GiB - 256 * MiB) * 100) / 95));
    });

    it('a negative Price sorts the type first; a negative AddedScratch takes from its scratch space', () => {
      const c = cluster({ free: '{VCPUs: 2, RAM: 8GiB, Price: 0, IncludedScratch: 10GiB}', paid: '{VCPUs: 2, RAM: 8GiB, Price: -0.5, IncludedScratch: 10GiB, AddedScratch: -4GiB}' }, PLAIN);
      assert.equal(c.InstanceTypes.paid.Price, -0.5);
      assert.equal(c.InstanceTypes.paid.Scratch, 6 * GiB);
      assert.equal(chooseInstanceTypes(c, ctr())[0].Name, 'paid');
      const scratch = (gib: number): Container['mounts'] => ({ '/tmp': { kind: 'tmp', capacity: gib * GiB } });
      assert.deepEqual(names(c, ctr({ mounts: scratch(7) })), ['free'], '7 GiB of scratch does not fit in 10 - 4');
    });
  });

  describe('errors', () => {
    it('says the constraints are not satisfiable, listing the configured types by price', () => {
      const c = cluster({ b: '{VCPUs: 2, RAM: 4GiB, Price: 2}', a: '{VCPUs: 1, RAM: 2GiB, Price: 1}' }, PLAIN);
      assert.throws(
        () => chooseInstanceTypes(c, ctr({ vcpus: 64 })),
        (e: ConstraintsNotSatisfiableError) => {
          assert.ok(e instanceof ConstraintsNotSatisfiableError);
          assert.equal(e.message, 'constraints not satisfiable by any configured instance type');
          assert.deepEqual(e.availableTypes.map((t) => t.Name), ['a', 'b']);
          return true;
        },
      );
    });

    it('says so when no instance type is configured', () => {
      assert.throws(() => chooseInstanceTypes(cluster({}), ctr()), (e: Error) => {
        assert.ok(e instanceof NoInstanceTypesError);
        assert.equal(e.message, 'site configuration does not list any instance types');
        return true;
      });
    });
  });
});
