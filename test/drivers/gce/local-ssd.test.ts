/**
 * LocalSSDs: local SSDs attached per instance type, as SCRATCH disks of type
 * local-ssd on the interface asked for; none for -lssd machine types, which
 * come with theirs; and the factory's warnings when a type's IncludedScratch
 * does not say what the local SSDs hold.
 */
import assert from 'node:assert/strict';
import { isCapacityError, isQuotaError } from '../../../src/cloud/errors.js';
import type { InstanceType } from '../../../src/config/types.js';
import { createLogger, LineCollector } from '../../../src/log.js';
import { gceDriver, LOCAL_SSD_BYTES } from '../../../drivers/gce/index.js';
import { instanceType, makeContext } from '../lame/helpers.js';
import { driverPerTest, E2, failure, fakeParams, gceCluster, N2 } from './helpers.js';

const BIG: InstanceType = { ...instanceType('n2big', 'n2-standard-8'), IncludedScratch: 2 * LOCAL_SSD_BYTES };
const BIG_SPOT: InstanceType = { ...BIG, Name: 'n2big.preemptible', Preemptible: true, Price: BIG.Price / 2 };
const FAST: InstanceType = { ...instanceType('n2dfast', 'n2d-standard-16'), IncludedScratch: 4 * LOCAL_SSD_BYTES };
const C3LSSD: InstanceType = { ...instanceType('c3lssd', 'c3-standard-8-lssd'), IncludedScratch: 2 * LOCAL_SSD_BYTES };
const TYPES = [N2, E2, BIG, BIG_SPOT, FAST, C3LSSD];
const LOCAL_SSDS = { n2big: 2, n2dfast: { Count: 4, Interface: 'NVME' }, c3lssd: 2, e2medium: 1 };

describe('gce driver: local SSDs', function () {
  this.timeout(20_000);
  const h = driverPerTest({ driver: (fake) => ({ cluster: gceCluster(TYPES), params: fakeParams(fake, { LocalSSDs: LOCAL_SSDS }) }) });
  const disksOf = (machineType: string) =>
    h.fake
      .instances()
      .filter((i) => !i.deleted && i.machineType === machineType)
      .map((i) => i.disks.filter((d) => !d.boot).map((d) => `${d.attachType} ${d.type} ${d.interface} ${d.diskSizeGb} ${d.deviceName}`));

  it('attaches Count local SSDs, SCSI unless NVME is asked for; a .preemptible variant takes its base type\'s entry', async () => {
    await h.create(BIG);
    await h.create(BIG_SPOT);
    await h.create(FAST);
    const two = ['SCRATCH local-ssd SCSI 375 local-ssd-0', 'SCRATCH local-ssd SCSI 375 local-ssd-1'];
    assert.deepEqual(disksOf('n2-standard-8'), [two, two]);
    assert.deepEqual(disksOf('n2d-standard-16'), [[0, 1, 2, 3].map((i) => `SCRATCH local-ssd NVME 375 local-ssd-${i}`)]);
    // A type without an entry gets none.
    await h.create(N2);
    assert.deepEqual(disksOf('n2-standard-2'), [[]]);
  });

  it('asks for none on an -lssd machine type, whose local SSDs GCE attaches itself', async () => {
    await h.create(C3LSSD);
    assert.deepEqual(disksOf('c3-standard-8-lssd'), [[]]);
  });

  it('a series that takes no local SSD fails with GCE\'s 400, not a capacity or quota error', async () => {
    const err = await failure(h.create(E2));
    assert.match(String(err), /\[local-ssd, e2-medium\] features are not compatible for creating instance\./);
    assert.ok(!isCapacityError(err) && !isQuotaError(err), String(err));
  });

  it('the factory warns when IncludedScratch does not count the local SSDs, or counts more, and when an -lssd type has an entry', async () => {
    const logs = new LineCollector();
    const types = [
      { ...BIG, IncludedScratch: 0 },
      { ...FAST, IncludedScratch: 5 * LOCAL_SSD_BYTES },
      C3LSSD,
      { ...N2, IncludedScratch: LOCAL_SSD_BYTES },
    ];
    const ctx = { ...makeContext({ cluster: gceCluster(types) }), logger: createLogger({ stream: logs, level: 'debug' }) };
    const set = await gceDriver({ Project: 'p', Zone: 'us-central1-a', Endpoint: 'http://127.0.0.1:9', LocalSSDs: { n2big: 2, n2dfast: 4, c3lssd: 2, n2standard2: 1 } }, ctx);
    set.stop();
    const lines = (msg: string): string[] => logs.lines.filter((l) => l.includes(msg));
    const notCounted = lines('local SSDs are attached but not counted as scratch');
    assert.equal(notCounted.length, 1);
    assert.match(notCounted[0], /"InstanceType":"n2big"/);
    const more = lines('IncludedScratch is more than the local SSDs hold');
    assert.equal(more.length, 1);
    assert.match(more[0], /"InstanceType":"n2dfast"/);
    const ignored = lines('LocalSSDs entry ignored');
    assert.equal(ignored.length, 1);
    assert.match(ignored[0], /"ProviderType":"c3-standard-8-lssd"/);
    // n2standard2's IncludedScratch equals its one local SSD: nothing to say.
    assert.ok(!logs.lines.some((l) => l.includes('"InstanceType":"n2standard2"')), logs.lines.join('\n'));
  });
});
