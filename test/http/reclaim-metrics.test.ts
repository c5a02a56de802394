/**
 * The reclaim metrics: counts by type, zone and preemptible, containers
 * lost, the recent rate by type, and the containers sent on demand.
 */
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { ManualClock } from '../../src/clock/manual.js';
import type { MetricsSources } from '../../src/http/metrics.js';
import { registerOwnMetrics } from '../../src/http/own-metrics.js';
import { ReclaimTracker } from '../../src/placement/reclaims.js';

describe('reclaim metrics', () => {
  it('say how many VMs were reclaimed where, the work lost, the recent rate, and what went on demand', async () => {
    const counts = new ReclaimTracker(new ManualClock(), 3_600_000);
    counts.observe({ type: 'instanceCreated', instanceId: 'i-1', pendingId: 'p-1', instanceType: 'm5.spot' });
    counts.observe({ type: 'instanceCreated', instanceId: 'i-2', pendingId: 'p-2', instanceType: 'm5.spot' });
    counts.observe({ type: 'instanceReclaimed', phase: 'gone', instanceId: 'i-1', instanceType: 'm5.spot', zone: 'a', preemptible: true, containers: ['c1', 'c2'], reason: 'x' });
    const registry = new Registry();
    registerOwnMetrics(registry, () => ({ reclaims: () => ({ counts, onDemand: { reclaims: 2, 'long runtime': 1 } }) }) as unknown as MetricsSources);
    const text = await registry.metrics();
    assert.match(text, /^arvados_dispatchcloud_instances_reclaimed_total\{instance_type="m5.spot",zone="a",preemptible="true"\} 1$/m);
    assert.match(text, /^arvados_dispatchcloud_containers_lost_to_reclaims_total\{instance_type="m5.spot",zone="a"\} 2$/m);
    assert.match(text, /^arvados_dispatchcloud_instance_type_reclaim_rate\{instance_type="m5.spot"\} 0.5$/m);
    assert.match(text, /^arvados_dispatchcloud_containers_sent_on_demand_total\{reason="reclaims"\} 2$/m);
    assert.match(text, /^arvados_dispatchcloud_containers_sent_on_demand_total\{reason="long runtime"\} 1$/m);
  });
});
