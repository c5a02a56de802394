/**
 * The gce driver's list, tags and destroy against the local Compute
 * endpoint: paging, the label/metadata mapping round trip, instances kept
 * in every status, the metadata fingerprint, retries of idempotent calls,
 * a delete that takes time.
 */
import assert from 'node:assert/strict';
import { labelKey, labelValue } from '../../../drivers/gce/mapping.js';
import { waitFor } from '../../cloud/conformance.js';
import { driverPerTest, N2, SPOT } from './helpers.js';

describe('gce driver: list, tags, destroy', function () {
  this.timeout(20_000);
  const h = driverPerTest({ fake: { pageSize: 2 } });
  const lists = () => h.fake.calls().filter((c) => c.kind === 'aggregatedList');

  it('follows every page (5 instances, pages of 2)', async () => {
    const made = await Promise.all(Array.from({ length: 5 }, () => h.create()));
    const before = lists().length;
    const listed = await h.driver.instances({ ArvadosInstanceSetID: h.setId });
    assert.deepEqual([...new Set(listed.map((i) => i.id))].sort(), made.map((i) => i.id).sort());
    assert.ok(lists().length - before >= 3, `expected at least 3 pages, got ${lists().length - before}`);
    assert.ok(lists().every((c) => c.query.filter === `labels.${labelKey('ArvadosInstanceSetID')} = "${labelValue(h.setId)}"`));
    for (const i of listed) {
      assert.equal(i.providerType, N2.ProviderType);
      assert.match(i.address, /^\d+\.\d+\.\d+\.\d+$/);
      assert.equal(i.remoteUser, 'crunch');
    }
  });

  it('round-trips tags with mixed-case keys and dots in values, and a set id that needs a hashed label', async () => {
    const oddSet = 'Cluster.Z9.SetID';
    const tags = { ArvadosInstanceSetID: oddSet, ArvadosInstanceType: 'n2.Standard.2', 'Team.Name': 'Genomics Core', ResourceTagX: 'A.b.C' };
    const inst = await h.create(N2, tags);
    const other = await h.create(N2, { ...tags, ArvadosInstanceSetID: 'cluster.z9.setid' });
    const vm = h.fake.instances().find((i) => i.name === inst.id)!;
    for (const [k, v] of Object.entries(vm.labels)) {
      assert.match(k, /^[a-z][a-z0-9_-]{0,62}$/);
      assert.match(v, /^[a-z0-9_-]{0,63}$/);
    }
    const listed = await h.driver.instances({ ArvadosInstanceSetID: oddSet });
    assert.deepEqual(listed.map((i) => i.id), [inst.id]);
    assert.deepEqual(listed[0].tags, tags);
    assert.deepEqual((await h.driver.instances({ ArvadosInstanceSetID: 'cluster.z9.setid' })).map((i) => i.id), [other.id]);
  });

  it('keeps instances of ours in every status in the list (TERMINATED, STOPPED, SUSPENDING, SUSPENDED, STOPPING...)', async () => {
    const statuses = ['TERMINATED', 'STOPPED', 'SUSPENDING', 'SUSPENDED', 'STOPPING', 'PENDING_STOP', 'DEPROVISIONING', 'REPAIRING'] as const;
    const made = await Promise.all(statuses.map(() => h.create()));
    statuses.forEach((status, i) => h.fake.setStatus(made[i].id, status));
    const listed = await h.driver.instances({ ArvadosInstanceSetID: h.setId });
    assert.deepEqual(listed.map((i) => i.id).sort(), made.map((i) => i.id).sort());
  });

  it('a Spot VM GCE preempts is listed as reclaimed while it stops, then leaves the list; an on-demand VM stopping is not', async () => {
    const spot = await h.create(SPOT);
    const other = await h.create(SPOT);
    const onDemand = await h.create();
    await h.fake.preempt(spot.id, 600);
    h.fake.setStatus(onDemand.id, 'STOPPING');
    const during = new Map((await h.driver.instances({ ArvadosInstanceSetID: h.setId })).map((i) => [i.id, i]));
    assert.equal(during.get(spot.id)?.reclaimed, true);
    assert.equal(during.get(other.id)?.reclaimed, undefined);
    assert.equal(during.get(onDemand.id)?.reclaimed, undefined);
    await waitFor('the preemption to finish', () => h.fake.instances().find((i) => i.name === spot.id)?.deleted === true);
    const after = await h.driver.instances({ ArvadosInstanceSetID: h.setId });
    assert.deepEqual(after.map((i) => i.id).sort(), [other.id, onDemand.id].sort(), 'gone: instanceTerminationAction DELETE');
  });

  it('a Spot VM GCE is tearing down (DEPROVISIONING) is listed as reclaimed; an on-demand one is not', async () => {
    const spot = await h.create(SPOT);
    const onDemand = await h.create();
    for (const inst of [spot, onDemand]) h.fake.setStatus(inst.id, 'DEPROVISIONING');
    const listed = new Map((await h.driver.instances({ ArvadosInstanceSetID: h.setId })).map((i) => [i.id, i]));
    assert.equal(listed.get(spot.id)?.reclaimed, true);
    assert.equal(listed.get(onDemand.id)?.reclaimed, undefined);
  });

  it('counts a VM being deleted until it is gone', async () => {
    await h.newFake({ pageSize: 2, deleteDelayMs: 600 });
    const inst = await h.create();
    await inst.destroy();
    const during = await h.driver.instances({ ArvadosInstanceSetID: h.setId });
    assert.deepEqual(during.map((i) => i.id), [inst.id], 'listed while GCE deletes it: it still holds its quota');
    assert.equal(h.fake.instances()[0].status, 'STOPPING');
    await waitFor('the delete to finish', () => h.fake.instances()[0].deleted === true);
    assert.deepEqual(await h.driver.instances({ ArvadosInstanceSetID: h.setId }), []);
  });

  it('a second destroy while the first delete runs is not an error (GCE says resourceNotReady)', async () => {
    await h.newFake({ deleteDelayMs: 600 });
    const inst = await h.create();
    await inst.destroy();
    const [listed] = await h.driver.instances({ ArvadosInstanceSetID: h.setId });
    await listed.destroy();
    assert.equal(h.fake.calls().filter((c) => c.kind === 'delete').length, 2);
    await waitFor('the delete to finish', () => h.fake.instances()[0].deleted === true);
  });

  it('retries a list that fails with 503', async () => {
    const inst = await h.create();
    h.fake.failNext('aggregatedList', { httpStatus: 503, reason: 'backendError' });
    assert.deepEqual((await h.driver.instances({ ArvadosInstanceSetID: h.setId })).map((i) => i.id), [inst.id]);
  });

  it('a throttled list is a RateLimitError', async () => {
    h.fake.failNext('aggregatedList', { httpStatus: 403, reason: 'userRateLimitExceeded' });
    await assert.rejects(h.driver.instances({ ArvadosInstanceSetID: h.setId }), { name: 'RateLimitError' });
  });

  it('setTags keeps the startup script, ssh key and OS Login opt-out, and re-reads once on a stale fingerprint (412)', async () => {
    const inst = await h.create();
    const [listed] = await h.driver.instances({ ArvadosInstanceSetID: h.setId });
    await listed.setTags({ ...inst.tags, ArvadosIdleBehavior: 'hold' });
    // `inst` still holds the fingerprint from before: the first setMetadata gets 412.
    const next = { ArvadosInstanceSetID: h.setId, ArvadosInstanceType: N2.Name, ArvadosIdleBehavior: 'drain' };
    await inst.setTags(next);
    const vm = h.fake.instances().find((i) => i.name === inst.id)!;
    assert.deepEqual(JSON.parse(vm.metadata['arvados-tags']), next);
    assert.ok(vm.metadata['startup-script'] && vm.metadata['ssh-keys']);
    assert.equal(vm.metadata['enable-oslogin'], 'FALSE');
    assert.equal(h.fake.calls().filter((c) => c.kind === 'setMetadata').length, 3);
    assert.deepEqual(inst.tags, next);
    const [again] = await h.driver.instances({ ArvadosInstanceSetID: h.setId });
    assert.deepEqual(again.tags, next);
  });

  it('setTags that changes the InstanceSetID moves the label too', async () => {
    const inst = await h.create();
    await inst.setTags({ ...inst.tags, ArvadosInstanceSetID: 'Other.Set' });
    assert.deepEqual(await h.driver.instances({ ArvadosInstanceSetID: h.setId }), []);
    assert.deepEqual((await h.driver.instances({ ArvadosInstanceSetID: 'Other.Set' })).map((i) => i.id), [inst.id]);
  });

  it('setTags that keeps the InstanceSetID touches no label: one setMetadata, no get, no setLabels', async () => {
    const inst = await h.create();
    const before = h.fake.calls().length;
    await inst.setTags({ ...inst.tags, ArvadosIdleBehavior: 'drain' });
    assert.deepEqual(h.fake.calls().slice(before).map((c) => c.kind).filter((k) => k !== 'operation.wait' && k !== 'operation.get'), ['setMetadata']);
  });

  it('a second setTags on the same instance reads the fingerprint its first one changed before writing: a get, then one setMetadata, no 412', async () => {
    const inst = await h.create();
    await inst.setTags({ ...inst.tags, ArvadosIdleBehavior: 'drain' });
    const before = h.fake.calls().length;
    const next = { ...inst.tags, ArvadosIdleBehavior: 'hold' };
    await inst.setTags(next);
    assert.deepEqual(h.fake.calls().slice(before).map((c) => c.kind).filter((k) => k !== 'operation.wait' && k !== 'operation.get'), ['get', 'setMetadata']);
    assert.deepEqual(JSON.parse(h.fake.instances().find((i) => i.name === inst.id)!.metadata['arvados-tags']), next);
  });

  it('destroy retries a 503, and destroying a gone instance is not an error', async () => {
    const inst = await h.create();
    h.fake.failNext('delete', { httpStatus: 503, reason: 'backendError' });
    await inst.destroy();
    assert.equal(h.fake.calls().filter((c) => c.kind === 'delete').length, 2);
    await inst.destroy();
  });
});
