/**
 * Capacity back-off: after a CapacityError the pool skips, for a minute,
 * the type or the quota group it names, in the market (spot or on-demand)
 * of the failed create only, since providers keep the two apart.
 */
import assert from 'node:assert/strict';
import { CapacityError } from '../../src/cloud/errors.js';
import type { InstanceType } from '../../src/config/types.js';
import { Harness, LARGE, SMALL } from './helpers.js';

const spotOf = (t: InstanceType): InstanceType => ({ ...t, Name: `${t.Name}.preemptible`, Preemptible: true, Price: t.Price / 2 });
const SMALL_SPOT = spotOf(SMALL);
const LARGE_SPOT = spotOf(LARGE);

describe('worker pool: capacity back-off by type, quota group and market', function () {
  this.timeout(20_000);
  let h: Harness;

  afterEach(async () => {
    await h?.stop();
  });

  async function started(opts: Parameters<typeof Harness.start>[0] = {}): Promise<void> {
    h = await Harness.start({ controller: false, ...opts });
    Object.assign(h.cluster.InstanceTypes, { [SMALL_SPOT.Name]: SMALL_SPOT, [LARGE_SPOT.Name]: LARGE_SPOT });
    h.pool.start();
    await h.tick(0);
  }

  async function failCreate(type: InstanceType, err: CapacityError): Promise<void> {
    h.cloud.failNextCreate(err);
    assert.ok(h.pool.create(type), `create of ${type.Name} accepted`);
    await h.tick(0);
  }

  it('a spot capacity error does not hold on-demand creates of the same type', async () => {
    await started();
    await failCreate(SMALL_SPOT, new CapacityError('no spot small ones', { instanceType: SMALL.ProviderType }));
    assert.equal(h.pool.atCapacity(SMALL_SPOT), true);
    assert.equal(h.pool.atCapacity(SMALL), false);
    assert.ok(h.pool.create(SMALL), 'on-demand small is still created');
  });

  it('an on-demand capacity error does not hold spot creates of the same type', async () => {
    await started();
    await failCreate(SMALL, new CapacityError('no small ones', { instanceType: SMALL.ProviderType }));
    assert.equal(h.pool.atCapacity(SMALL), true);
    assert.equal(h.pool.atCapacity(SMALL_SPOT), false);
    assert.ok(h.pool.create(SMALL_SPOT));
  });

  it('a spot quota-group capacity error does not hold on-demand creates of that group', async () => {
    await started();
    await failCreate(SMALL_SPOT, new CapacityError('spot vCPU limit', { quotaGroup: 'standard' }));
    assert.equal(h.pool.atCapacity(SMALL_SPOT), true);
    assert.equal(h.pool.atCapacity(SMALL), false);
    assert.ok(h.pool.create(SMALL));
  });

  it('knows a type\'s quota group before the first failure (the driver\'s quotaGroup)', async () => {
    await started({ quotaGroup: (t) => (t.Preemptible ? 'lame-spot' : 'lame') });
    await failCreate(SMALL, new CapacityError('vCPU limit', { quotaGroup: 'lame' }));
    assert.equal(h.pool.atCapacity(LARGE), true, 'another type of the group, never tried');
    assert.equal(h.pool.create(LARGE), undefined);
    assert.equal(h.pool.atCapacity(LARGE_SPOT), false, 'the spot group is another quota');
    const start = h.clock.now();
    assert.deepEqual(
      h.pool.createLimits([LARGE, LARGE_SPOT]).capacity,
      { [LARGE.Name]: { scope: 'group', since: start, until: start + 60_000, error: 'vCPU limit' } },
      'the status page says why the never-tried type is held: its group',
    );
    await h.tick(60_000);
    assert.equal(h.pool.atCapacity(LARGE), false, 'for a minute');
    assert.ok(h.pool.create(LARGE));
  });

  it('an error naming both a type and a group holds the type only, as the reference ranks them', async () => {
    await started({ quotaGroup: () => 'g' });
    await failCreate(SMALL, new CapacityError('no small ones', { instanceType: SMALL.ProviderType, quotaGroup: 'g' }));
    assert.equal(h.pool.atCapacity(SMALL), true);
    assert.equal(h.pool.atCapacity(LARGE), false, 'another type of the same group is still created');
  });

  it('takes the group from the driver, not from the error, when the driver has one', async () => {
    await started({ quotaGroup: (t) => (t.ProviderType === SMALL.ProviderType ? 'g1' : 'g2') });
    await failCreate(SMALL, new CapacityError('vCPU limit', { quotaGroup: 'g2' }));
    assert.equal(h.pool.atCapacity(SMALL), true);
    assert.equal(h.pool.atCapacity(LARGE), false);
  });
});
