/**
 * The gce driver's create against the local Compute endpoint: error classes
 * (sync and async), zone failover, our own retries with one requestId, and
 * what the insert body asks for.
 */
import assert from 'node:assert/strict';
import { asCapacityError, isCapacityError, isQuotaError, isRateLimitError } from '../../../src/cloud/errors.js';
import { createArgs, DISPATCH_KEY, driverPerTest, failure, fakeParams, N2, PROJECT, SCRATCH, SPOT, ZONES } from './helpers.js';

describe('gce driver: create', function () {
  this.timeout(20_000);
  const h = driverPerTest();
  const inserts = () => h.fake.calls().filter((c) => c.kind === 'insert');
  const live = () => h.fake.instances().filter((i) => !i.deleted);

  it('HTTP 429 is a RateLimitError, not retried', async () => {
    h.fake.failNext('insert', { httpStatus: 429, reason: 'rateLimitExceeded' });
    const err = await failure(h.create());
    assert.ok(isRateLimitError(err), String(err));
    assert.equal(inserts().length, 1);
  });

  it('403 quotaExceeded (synchronous) is a QuotaError', async () => {
    h.fake.failNext('insert', { httpStatus: 403, reason: 'quotaExceeded', message: "Quota 'CPUS' exceeded." });
    const err = await failure(h.create());
    assert.ok(isQuotaError(err) && !isCapacityError(err), String(err));
  });

  it('an asynchronous QUOTA_EXCEEDED is a QuotaError, and no instance is left', async () => {
    h.fake.failNext('insert', { asyncError: 'QUOTA_EXCEEDED' });
    const err = await failure(h.create());
    assert.ok(isQuotaError(err), String(err));
    assert.equal(live().length, 0);
  });

  it('an asynchronous failure of another kind is reported, unclassified', async () => {
    h.fake.failNext('insert', { asyncError: 'RESOURCE_NOT_FOUND' });
    const err = await failure(h.create());
    assert.ok(!isQuotaError(err) && !isCapacityError(err) && !isRateLimitError(err));
    assert.match(String(err), /RESOURCE_NOT_FOUND/);
  });

  it('a zone out of capacity makes it try the next zone', async () => {
    h.fake.failZone(ZONES[0], 'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS');
    const inst = await h.create();
    assert.deepEqual(inserts().map((c) => c.path.split('/')[6]), ZONES);
    assert.equal(live().length, 1);
    assert.equal(live()[0].zone, ZONES[1]);
    assert.equal(inst.id, live()[0].name);
    // Different request, different requestId.
    const ids = inserts().map((c) => c.query.requestId);
    assert.notEqual(ids[0], ids[1]);
  });

  it('every zone out of capacity is a CapacityError for the type', async () => {
    for (const z of ZONES) h.fake.failZone(z, 'ZONE_RESOURCE_POOL_EXHAUSTED');
    const err = await failure(h.create());
    assert.equal(asCapacityError(err)?.instanceType, N2.ProviderType, String(err));
    assert.equal(inserts().length, ZONES.length);
  });

  it('retries a 503 with the same requestId, ending with one instance', async () => {
    h.fake.failNext('insert', { httpStatus: 503, reason: 'backendError' });
    const inst = await h.create();
    const calls = inserts();
    assert.equal(calls.length, 2);
    assert.ok(calls[0].query.requestId);
    assert.equal(calls[1].query.requestId, calls[0].query.requestId);
    assert.equal(live().length, 1);
    assert.equal(inst.id, live()[0].name);
  });

  it('retries a 503 on the operation wait', async () => {
    h.fake.failNext('operation', { httpStatus: 503, reason: 'backendError' });
    const inst = await h.create();
    assert.ok(inst.id);
  });

  it('asks for SPOT with DELETE for preemptible types', async () => {
    await h.create(SPOT);
    const body = inserts()[0].body as { scheduling: Record<string, unknown> };
    assert.equal(body.scheduling.provisioningModel, 'SPOT');
    assert.equal(body.scheduling.instanceTerminationAction, 'DELETE');
    assert.equal(live()[0].scheduling.provisioningModel, 'SPOT');
  });

  it('adds an auto-deleted scratch disk for AddedScratch', async () => {
    await h.create(SCRATCH);
    const disks = live()[0].disks;
    assert.equal(disks.length, 2);
    const scratch = disks.find((d) => !d.boot)!;
    assert.equal(scratch.autoDelete, true);
    assert.equal(scratch.diskSizeGb, String(Math.ceil(SCRATCH.AddedScratch / 2 ** 30)));
    assert.equal(scratch.type, 'pd-balanced');
  });

  it('puts the init script, ssh key and tags in metadata and the InstanceSetID label, without an external IP', async () => {
    const inst = await h.create();
    const vm = live()[0];
    assert.match(vm.metadata['startup-script'], /^#!\/bin\/sh\n/);
    assert.equal(vm.metadata['ssh-keys'], `crunch:${DISPATCH_KEY.public.trim()}`);
    // Instance metadata overrides a project's enable-oslogin=TRUE, under which the guest would ignore ssh-keys.
    assert.equal(vm.metadata['enable-oslogin'], 'FALSE');
    assert.deepEqual(JSON.parse(vm.metadata['arvados-tags']), inst.tags);
    assert.equal(Object.keys(vm.labels).length, 1);
    assert.ok(!vm.networkInterfaces[0].accessConfigs?.length, 'no external IP');
    assert.equal(inst.address, vm.networkInterfaces[0].networkIP);
    assert.equal(inst.remoteUser, 'crunch');
    assert.equal(inst.providerType, N2.ProviderType);
  });

  it('ImageID: a name, family/NAME or global/images/... is in the project; paths and URLs are sent as written', async () => {
    const url = 'https://www.googleapis.com/compute/v1/projects/debian-cloud/global/images/family/debian-12';
    const sent: Array<[string, string]> = [
      ['arvados-compute-v3', `projects/${PROJECT}/global/images/arvados-compute-v3`],
      ['family/arvados-compute', `projects/${PROJECT}/global/images/family/arvados-compute`],
      ['global/images/family/arvados-compute', `projects/${PROJECT}/global/images/family/arvados-compute`],
      ['global/images/arvados-compute-v3', `projects/${PROJECT}/global/images/arvados-compute-v3`],
      ['projects/debian-cloud/global/images/family/debian-12', 'projects/debian-cloud/global/images/family/debian-12'],
      [url, url],
    ];
    for (const [imageId] of sent) {
      const { tags, init } = createArgs(h.setId);
      await h.driver.create(N2, imageId, tags, init, DISPATCH_KEY.public);
    }
    assert.deepEqual(live().map((i) => i.disks[0].sourceImage), sent.map(([, path]) => path));
  });

  it('an ImageID in no form GCE takes fails the create with GCE\'s 400, quoting it as written', async () => {
    const { tags, init } = createArgs(h.setId);
    const err = await failure(h.driver.create(N2, 'debian-cloud/debian-12', tags, init, DISPATCH_KEY.public));
    assert.match(String(err), /initializeParams\.sourceImage': 'debian-cloud\/debian-12'\. The URL is malformed\./);
    assert.equal(live().length, 0);
  });

  it('ExternalIP: true asks for one; AdminUsername is the ssh-keys user', async () => {
    await h.newDriver((fake) => ({ params: fakeParams(fake, { ExternalIP: true, AdminUsername: 'arvados' }) }));
    const inst = await h.create();
    const vm = live()[0];
    assert.equal(vm.networkInterfaces[0].accessConfigs?.length, 1);
    assert.match(vm.metadata['ssh-keys'], /^arvados:/);
    assert.equal(vm.metadata['enable-oslogin'], 'FALSE');
    assert.equal(inst.remoteUser, 'arvados');
  });

  it('an AdminUsername with capitals and a dot, as images name users, is the ssh-keys user and the login', async () => {
    await h.newDriver((fake) => ({ params: fakeParams(fake, { AdminUsername: 'Jane.Doe' }) }));
    const inst = await h.create();
    assert.equal(live()[0].metadata['ssh-keys'], `Jane.Doe:${DISPATCH_KEY.public.trim()}`);
    assert.equal(inst.remoteUser, 'Jane.Doe');
  });

  it('an insert that reports success but whose instance GCE then does not know (404) fails the create, not a VM without an address', async () => {
    h.fake.failNext('get', { httpStatus: 404, reason: 'notFound' });
    const err = await failure(h.create());
    assert.match(String(err), /the insert reported success, but there is no such instance/);
  });

  it('an insert whose read-back fails otherwise still gives the VM (the next listing fills in its address)', async () => {
    h.fake.failNext('get', { httpStatus: 403, reason: 'forbidden' });
    const inst = await h.create();
    assert.equal(inst.address, '');
    assert.deepEqual(live().map((i) => i.name), [inst.id]);
  });
});

describe('gce driver: an answer that is not an operation', function () {
  const h = driverPerTest();

  it('an operation without a name (a proxy\'s page) fails the wait, even one that says DONE, and nothing is waited on', async () => {
    const waits = () => h.fake.calls().filter((c) => c.kind === 'operation.wait').length;
    for (const op of [{ status: 'DONE' as const }, { status: 'RUNNING' as const }, {}]) {
      await assert.rejects(h.driver.waitOperation(ZONES[0], op, 'insert vm-1'), /gce: insert vm-1: the API returned an operation without a name/, JSON.stringify(op));
    }
    assert.equal(waits(), 0);
  });
});

describe('gce driver: an operation that does not finish', function () {
  this.timeout(20_000);
  // Each operations.wait answers RUNNING after 20 ms; the insert would be DONE only after 3 s.
  const h = driverPerTest({ fake: { operationDelayMs: 3000, waitMaxMs: 20 }, driver: { options: { operationTimeoutMs: 300 } } });

  it('fails the create after operationTimeoutMs instead of waiting on it for ever', async () => {
    const started = Date.now();
    const err = await failure(h.create());
    assert.match(String(err), /not done after 300 ms/);
    assert.ok(Date.now() - started < 2500, 'gave up before the operation finished');
  });
});
