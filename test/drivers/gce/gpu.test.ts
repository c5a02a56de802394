/**
 * GPU instance types on GCE: a VM with GPUs cannot live-migrate, so its
 * insert must ask to be terminated on host maintenance; N1 types get their
 * GPUs from the GuestAccelerators parameter.
 */
import assert from 'node:assert/strict';
import { buildInstanceBody, canLiveMigrate, type GceInstanceRecord, guestAcceleratorFor } from '../../../drivers/gce/body.js';
import { parseGceParams } from '../../../drivers/gce/params.js';
import type { InstanceType } from '../../../src/config/types.js';
import { instanceType } from '../lame/helpers.js';
import { driverPerTest, failure, fakeParams, gceCluster, IMAGE, N2, ZONES } from './helpers.js';

const gpuType = (name: string, providerType: string, deviceCount: number, preemptible = false): InstanceType => {
  const t = instanceType(name, providerType);
  return { ...t, Preemptible: preemptible, GPU: { ...t.GPU, Stack: deviceCount > 0 ? 'cuda' : '', DeviceCount: deviceCount } };
};

/** Built-in GPUs; the config does not say so (DeviceCount 0): the family does. */
const G2 = gpuType('g2std8', 'g2-standard-8', 0);
/** GPUs attached through GuestAccelerators. */
const N1T4 = gpuType('n1t4', 'n1-standard-8', 2);
const N1T4_SPOT = gpuType('n1t4.preemptible', 'n1-standard-8', 2, true);
/** The config says it has a GPU, on a type of its own family. */
const CUDA = gpuType('cudabox', 'n1-standard-4', 1);

const ACCELERATORS = { n1t4: { AcceleratorType: 'nvidia-tesla-t4' } };
/** The first zone creates go to. */
const ZONE = ZONES[0];

function bodyFor(type: InstanceType, extra: Record<string, unknown> = {}): GceInstanceRecord {
  const { params } = parseGceParams({ Project: 'p', Zone: ZONE, ...extra });
  return buildInstanceBody({
    params, zone: ZONE, name: 'vm', type, imageId: IMAGE, tags: {}, initCommand: 'true', publicKey: '', setTagKey: 'ArvadosInstanceSetID',
  });
}

describe('gce GPU types: the insert body', () => {
  it('keeps MIGRATE for a type without GPUs', () => {
    assert.deepEqual(bodyFor(N2).scheduling, { provisioningModel: 'STANDARD', automaticRestart: true, onHostMaintenance: 'MIGRATE' });
    assert.equal(bodyFor(N2).guestAccelerators, undefined);
  });

  it('asks for TERMINATE, restarting after maintenance, for a GPU type of any kind', () => {
    const terminate = { provisioningModel: 'STANDARD', automaticRestart: true, onHostMaintenance: 'TERMINATE' };
    for (const p of ['a2-highgpu-1g', 'a3-megagpu-8g', 'a4-highgpu-8g', 'a4x-highgpu-4g', 'g2-standard-8', 'g4-standard-48']) {
      assert.deepEqual(bodyFor(gpuType('t', p, 0)).scheduling, terminate, p);
    }
    assert.deepEqual(bodyFor(CUDA).scheduling, terminate, 'GPU.DeviceCount > 0');
    assert.deepEqual(bodyFor(N1T4, { GuestAccelerators: ACCELERATORS }).scheduling, terminate, 'guest accelerators');
    // Google only stops these too.
    assert.equal(bodyFor(gpuType('t', 'h4d-highmem-192', 0)).scheduling?.onHostMaintenance, 'TERMINATE');
    assert.equal(bodyFor(gpuType('t', 'c3-highcpu-192-metal', 0)).scheduling?.onHostMaintenance, 'TERMINATE');
    assert.ok(canLiveMigrate(gpuType('t', 'n2d-standard-2', 0), undefined));
  });

  it('keeps Spot scheduling for a preemptible GPU type', () => {
    const s = bodyFor(N1T4_SPOT, { GuestAccelerators: ACCELERATORS }).scheduling;
    assert.deepEqual(s, { provisioningModel: 'SPOT', instanceTerminationAction: 'DELETE', automaticRestart: false, onHostMaintenance: 'TERMINATE' });
  });

  it("attaches the GuestAccelerators of the type's name in the zone, counting the type's GPUs unless Count says", () => {
    assert.deepEqual(bodyFor(N1T4, { GuestAccelerators: ACCELERATORS }).guestAccelerators, [
      { acceleratorType: `zones/${ZONE}/acceleratorTypes/nvidia-tesla-t4`, acceleratorCount: 2 },
    ]);
    const counted = { n1t4: { AcceleratorType: 'nvidia-tesla-v100', Count: 4 } };
    assert.deepEqual(bodyFor(N1T4, { GuestAccelerators: counted }).guestAccelerators?.[0].acceleratorCount, 4);
    const noCount = gpuType('plain', 'n1-standard-2', 0);
    const one = bodyFor(noCount, { GuestAccelerators: { plain: { AcceleratorType: 'nvidia-tesla-t4' } } });
    assert.equal(one.guestAccelerators?.[0].acceleratorCount, 1, 'a type that says no GPUs gets one');
    // Another type's entry is not this type's.
    assert.equal(bodyFor(CUDA, { GuestAccelerators: ACCELERATORS }).guestAccelerators, undefined);
  });

  it("a generated preemptible variant uses its base type's entry unless it has its own", () => {
    const { params } = parseGceParams({ Project: 'p', Zone: ZONE, GuestAccelerators: ACCELERATORS });
    assert.equal(guestAcceleratorFor(params, N1T4_SPOT)?.AcceleratorType, 'nvidia-tesla-t4');
    const own = parseGceParams({ Project: 'p', Zone: ZONE, GuestAccelerators: { ...ACCELERATORS, 'n1t4.preemptible': { AcceleratorType: 'nvidia-l4' } } });
    assert.equal(guestAcceleratorFor(own.params, N1T4_SPOT)?.AcceleratorType, 'nvidia-l4');
  });
});

describe('gce GPU types: create against the fake', function () {
  this.timeout(20_000);
  const h = driverPerTest({ driver: (fake) => ({ params: fakeParams(fake, { GuestAccelerators: ACCELERATORS }), cluster: gceCluster([N2, G2, N1T4]) }) });

  it('the body sent before (MIGRATE) is refused as GCE refuses it; the one sent now creates the VM', async () => {
    const old = bodyFor(G2);
    old.scheduling = { provisioningModel: 'STANDARD', automaticRestart: true, onHostMaintenance: 'MIGRATE' };
    const insert = h.driver.clients.instances.insert({ project: h.driver.project, zone: ZONE, instanceResource: old });
    const refused = (await failure(insert, 'the MIGRATE body should be refused')) as { status?: number; message: string };
    assert.equal(refused.status, 400);
    assert.match(refused.message, /Instances with guest accelerators do not support live migration\./);

    const inst = await h.create(G2);
    const [vm] = h.fake.instances();
    assert.equal(vm.name, inst.id);
    assert.equal(vm.machineType, 'g2-standard-8');
    assert.equal(vm.scheduling.onHostMaintenance, 'TERMINATE');
    assert.equal(vm.scheduling.automaticRestart, true);
  });

  it('an N1 type listed in GuestAccelerators gets its GPUs', async () => {
    await h.create(N1T4);
    const [vm] = h.fake.instances();
    assert.deepEqual(vm.guestAccelerators, [{ acceleratorType: 'nvidia-tesla-t4', acceleratorCount: 2 }]);
    assert.equal(vm.scheduling.onHostMaintenance, 'TERMINATE');
  });

  it('a type without GPUs still live-migrates and gets no accelerators', async () => {
    await h.create(N2);
    const [vm] = h.fake.instances();
    assert.deepEqual(vm.guestAccelerators, []);
    assert.equal(vm.scheduling.onHostMaintenance, 'MIGRATE');
  });
});
