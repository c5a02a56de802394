/**
 * The disk types of a VM's boot and scratch disks per machine family:
 * DiskTypes entries over DiskType, and hyperdisk-balanced for the
 * Hyperdisk-only families while DiskType is left at pd-balanced, against a
 * fake that refuses what each series cannot attach as GCE does; and scratch
 * disks raised to their disk type's minimum size.
 */
import assert from 'node:assert/strict';
import { isCapacityError, isQuotaError } from '../../../src/cloud/errors.js';
import type { InstanceType } from '../../../src/config/types.js';
import { createLogger, LineCollector } from '../../../src/log.js';
import { buildInstanceBody, gceDriver, parseGceParams } from '../../../drivers/gce/index.js';
import { instanceType, makeContext } from '../lame/helpers.js';
import { driverPerTest, E2, failure, fakeParams, gceCluster, N2, SCRATCH } from './helpers.js';

const N4: InstanceType = { ...instanceType('n4standard4', 'n4-standard-4'), AddedScratch: 20 * 2 ** 30 };
const C4A = instanceType('c4ahighmem8', 'c4a-highmem-8');
const TYPES = [N2, E2, SCRATCH, N4, C4A];
/** A type whose AddedScratch (1 GiB) is below pd-balanced's 10 GB minimum. */
const TINY: InstanceType = { ...instanceType('n2tiny', 'n2-standard-2'), AddedScratch: 2 ** 30 };

describe('gce driver: disk types per machine family', function () {
  this.timeout(20_000);
  const h = driverPerTest({ driver: { cluster: gceCluster(TYPES) } });
  const live = () => h.fake.instances().filter((i) => !i.deleted);
  const diskTypes = () => live().map((i) => [i.machineType, ...i.disks.map((d) => d.type)]);
  const withParams = (extra: Record<string, unknown>) => h.newDriver((fake) => ({ cluster: gceCluster(TYPES), params: fakeParams(fake, extra) }));

  it('with DiskType left at pd-balanced, Hyperdisk-only families get hyperdisk-balanced boot and scratch disks, others pd-balanced', async () => {
    await h.create(N4);
    await h.create(C4A);
    await h.create(SCRATCH);
    assert.deepEqual(diskTypes(), [
      ['n4-standard-4', 'hyperdisk-balanced', 'hyperdisk-balanced'],
      ['c4a-highmem-8', 'hyperdisk-balanced'],
      ['n2-standard-4', 'pd-balanced', 'pd-balanced'],
    ]);
  });

  it('a Persistent Disk type the operator chose is not swapped: N4 fails with GCE\'s 400 until DiskTypes names n4', async () => {
    await withParams({ DiskType: 'pd-ssd' });
    const err = await failure(h.create(N4));
    assert.match(String(err), /\[pd-ssd, n4-standard-4\] features are not compatible for creating instance\./);
    // No zone offers another answer: one insert, and not a capacity or quota matter for the pool.
    assert.equal(h.fake.calls().filter((c) => c.kind === 'insert').length, 1);
    assert.ok(!isCapacityError(err) && !isQuotaError(err), String(err));
    await withParams({ DiskType: 'pd-ssd', DiskTypes: { n4: 'hyperdisk-extreme' } });
    await h.create(N4);
    await h.create(N2);
    assert.deepEqual(diskTypes(), [['n4-standard-4', 'hyperdisk-extreme', 'hyperdisk-extreme'], ['n2-standard-2', 'pd-ssd']]);
  });

  it('DiskTypes lets one cluster mix families that share no disk type, for boot and scratch disks', async () => {
    // E2 takes no Hyperdisk: under DiskType hyperdisk-balanced alone it cannot start.
    await withParams({ DiskType: 'hyperdisk-balanced' });
    assert.match(String(await failure(h.create(E2))), /\[hyperdisk-balanced, e2-medium\] features are not compatible/);
    await withParams({ DiskType: 'hyperdisk-balanced', DiskTypes: { e2: 'pd-balanced', n2: 'pd-ssd' } });
    await h.create(E2);
    await h.create(SCRATCH);
    await h.create(N4);
    assert.deepEqual(diskTypes(), [
      ['e2-medium', 'pd-balanced'],
      ['n2-standard-4', 'pd-ssd', 'pd-ssd'],
      ['n4-standard-4', 'hyperdisk-balanced', 'hyperdisk-balanced'],
    ]);
  });

  it('a scratch disk smaller than its disk type\'s minimum (10 GB for pd-*) is created at the minimum; Hyperdisk sizes are sent as asked', () => {
    const params = parseGceParams({ Project: 'p', Zone: 'us-central1-a' }).params;
    const scratchOf = (type: InstanceType, p = params) => {
      const body = buildInstanceBody({ params: p, zone: 'us-central1-a', name: 'n', type, imageId: 'img', tags: {}, initCommand: '', publicKey: '', setTagKey: 'ArvadosInstanceSetID' });
      return body.disks?.find((d) => d.deviceName === 'scratch')?.initializeParams?.diskSizeGb;
    };
    assert.equal(scratchOf(TINY), '10');
    assert.equal(scratchOf(TINY, parseGceParams({ Project: 'p', Zone: 'us-central1-a', DiskType: 'pd-ssd' }).params), '10');
    assert.equal(scratchOf(TINY, parseGceParams({ Project: 'p', Zone: 'us-central1-a', DiskType: 'pd-standard' }).params), '10');
    assert.equal(scratchOf(SCRATCH), '51', 'AddedScratch rounded up to a whole GB');
    assert.equal(scratchOf({ ...N4, AddedScratch: 2 ** 30 }), '1', 'hyperdisk-balanced: no minimum known here');
    assert.equal(scratchOf(N2), undefined, 'no AddedScratch, no scratch disk');
  });

  it('the factory says at start which types get a scratch disk bigger than their AddedScratch', async () => {
    const logs = new LineCollector();
    const ctx = { ...makeContext({ cluster: gceCluster([...TYPES, TINY]) }), logger: createLogger({ stream: logs, level: 'debug' }) };
    const set = await gceDriver({ Project: 'p', Zone: 'us-central1-a', Endpoint: 'http://127.0.0.1:9' }, ctx);
    set.stop();
    const raised = logs.records().filter((r) => r.msg === "scratch disk raised to its disk type's minimum size");
    assert.deepEqual(raised.map((r) => [r.InstanceType, r.DiskType, r.DiskSizeGB]), [[TINY.Name, 'pd-balanced', 10]]);
  });

  it('the factory warns once about DiskTypes families no instance type is of', async () => {
    const logs = new LineCollector();
    const ctx = { ...makeContext({ cluster: gceCluster(TYPES) }), logger: createLogger({ stream: logs, level: 'debug' }) };
    const set = await gceDriver({ Project: 'p', Zone: 'us-central1-a', Endpoint: 'http://127.0.0.1:9', DiskTypes: { n4: 'hyperdisk-balanced', m4: 'hyperdisk-balanced', x4: 'hyperdisk-extreme' } }, ctx);
    set.stop();
    const warnings = logs.lines.filter((l) => l.includes('DiskTypes names machine families no instance type is of'));
    assert.equal(warnings.length, 1);
    assert.match(warnings[0], /"Families":\["m4","x4"\]/);
  });
});
