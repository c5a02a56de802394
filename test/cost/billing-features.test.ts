/**
 * Billing wired into a dispatcher: rules come from the driver through the
 * wrappers, the settings override them, and StretchIdle alone wraps the
 * queue's timeline to learn arrivals.
 */
import assert from 'node:assert/strict';
import { ManualClock } from '../../src/clock/manual.js';
import { defaultSettings, type Settings } from '../../src/config/settings.js';
import { wrapInstanceSet } from '../../src/cloud/wrap.js';
import type { InstanceSet } from '../../src/cloud/types.js';
import type { InstanceType } from '../../src/config/types.js';
import { billingFeatures } from '../../src/cost/billing-features.js';
import { EC2_LINUX_BILLING } from '../../src/cost/billing.js';
import type { SeenContainer } from '../../src/timeline/sink.js';
import { createLogger } from '../../src/log.js';
import { makeCluster } from '../drivers/lame/helpers.js';

const H = 3_600_000;

describe('billingFeatures', () => {
  const cluster = makeCluster();
  const clock = new ManualClock();
  const driver: InstanceSet = {
    create: () => Promise.reject(new Error('unused')),
    instances: () => Promise.resolve([]),
    stop: () => undefined,
    billingRule: () => EC2_LINUX_BILLING,
  };
  const wrapped = wrapInstanceSet(driver, { clock, logger: createLogger({ level: 'error' }), maxCloudOpsPerSecond: 0, resourceTags: {} });
  const billing = (b: Partial<Settings['Billing']>): Settings['Billing'] => ({ ...defaultSettings().Billing, ...b });

  it("takes the driver's rule through the wrapper, the settings' over it; off: the queue's timeline untouched, no stretcher", () => {
    const seen: string[] = [];
    const timeline = { containerSeen: (c: SeenContainer) => void seen.push(c.uuid) };
    const f = billingFeatures({ settings: billing({ InstanceTypes: { small: { incrementMs: H, minimumMs: H } } }), cluster, instanceSet: wrapped, timeline, clock, typesOf: () => undefined });
    assert.deepEqual(f.rules.get('small'), { incrementMs: H, minimumMs: H });
    for (const name of Object.keys(cluster.InstanceTypes).filter((n) => n !== 'small')) assert.deepEqual(f.rules.get(name), EC2_LINUX_BILLING, name);
    assert.deepEqual(f.billingOf?.('small'), { incrementMs: H, minimumMs: H });
    assert.equal(f.stretcher, undefined);
    assert.equal(f.queueTimeline, timeline);
    const none = billingFeatures({ settings: billing({}), cluster, instanceSet: { billingRule: undefined }, timeline, clock, typesOf: () => undefined });
    assert.equal(none.rules.size, 0);
    assert.equal(none.billingOf, undefined, 'no rule anywhere: the ledger does no billing work');
  });

  it('on: queued containers seen by the queue make work that fits their types likely, and the timeline still sees them', () => {
    const seen: string[] = [];
    const small = cluster.InstanceTypes.small as InstanceType;
    const f = billingFeatures({
      settings: billing({ InstanceTypes: { '*': { incrementMs: H, minimumMs: H } }, StretchIdle: true, MaxStretch: H }),
      cluster,
      instanceSet: wrapped,
      timeline: { containerSeen: (c) => void seen.push(c.uuid) },
      clock,
      typesOf: () => [small],
    });
    const worker = { type: { Name: 'small' }, busy: clock.now() + 9 * 60_000, billedFrom: clock.now(), kept: undefined };
    const at = clock.now() + 10 * 60_000;
    assert.equal(f.stretcher!.keeps({ ...worker }, at, 60_000), false, 'no arrivals yet: nothing likely');
    for (let i = 0; i < 3; i++) f.queueTimeline!.containerSeen({ uuid: `c${i}`, state: 'Queued', priority: 1, created_at: '' });
    f.queueTimeline!.containerSeen({ uuid: 'c0', state: 'Running', priority: 1, created_at: '' });
    assert.deepEqual(seen, ['c0', 'c1', 'c2', 'c0']);
    assert.equal(f.stretcher!.keeps({ ...worker }, at, 60_000), true, 'three an hour: one in the 49 min left is likely');
  });
});
