/**
 * The controller's health in /metrics: the concurrency limit, the last 503,
 * the controller's state (normal / outage / overload) and the dispatcher's
 * requests by outcome. First from scrape-time sources, then on a whole
 * dispatcher whose controller goes down and comes back.
 */
import assert from 'node:assert/strict';
import { loadConfigText } from '../../src/config/index.js';
import { DispatcherMetrics, type MetricsSources } from '../../src/http/metrics.js';
import type { ControllerState } from '../../src/scheduler/limits.js';
import { call, parseProm, type PromSample, promValue, type Stack, startStack, until } from './helpers.js';

const P = 'arvados_dispatchcloud_';

function sources(state: ControllerState | undefined, limit: number, last503: number): MetricsSources {
  return {
    queueEntries: () => [],
    workers: () => [],
    poolStats: () => ({ bootOutcomes: { success: 0, failure: 0, aborted: 0, disappeared: 0 }, disappeared: { unknown: 0, booting: 0, idle: 0, running: 0, shutdown: 0 }, maxProbeAgeMs: 0, medianProbeAgeMs: 0, creating: 0 }),
    containersRunning: () => 0,
    scheduler: { maxContainers: limit, containersAllocatedNotStarted: 0, containersNotAllocatedOverQuota: 0, longestWaitTimeSeconds: 0, atQuota: false, controllerState: state },
    last503: () => last503,
    controllerRequests: () => ({ ok: 7, overload: 2, failed: 1 }),
  };
}

describe('controller health metrics', function () {
  this.timeout(20_000);

  it('estimated_wait_seconds by type: the median estimated wait; a type seen once stays, at 0', async () => {
    const m = new DispatcherMetrics(loadConfigText('Clusters: {zzzzz: {}}').cluster);
    let waits: Record<string, number> = { small: 120, large: 3600 };
    m.attach({ ...sources('normal', 0, 0), estimatedWaits: () => waits });
    let s = parseProm(await m.text());
    assert.equal(promValue(s, `${P}estimated_wait_seconds`, { instance_type: 'small' }), 120);
    assert.equal(promValue(s, `${P}estimated_wait_seconds`, { instance_type: 'large' }), 3600);
    waits = { small: 30 };
    s = parseProm(await m.text());
    assert.equal(promValue(s, `${P}estimated_wait_seconds`, { instance_type: 'small' }), 30);
    assert.equal(promValue(s, `${P}estimated_wait_seconds`, { instance_type: 'large' }), 0);
  });

  it('drain to save: draining instances, the saving per hour, and containers by outcome; all 0 while it is off', async () => {
    const m = new DispatcherMetrics(loadConfigText('Clusters: {zzzzz: {}}').cluster);
    m.attach(sources('normal', 0, 0));
    let s = parseProm(await m.text());
    assert.equal(promValue(s, `${P}drain_instances`), 0);
    assert.equal(promValue(s, `${P}drain_containers_total`, { outcome: 'waited' }), 0);
    m.attach({ ...sources('normal', 0, 0), drain: () => ({ draining: 3, savingPerHour: 1.15, tookDraining: 4, waited: 2, emptied: 9 }) });
    s = parseProm(await m.text());
    assert.equal(promValue(s, `${P}drain_instances`), 3);
    assert.equal(promValue(s, `${P}drain_saving_dollars_per_hour`), 1.15);
    assert.equal(promValue(s, `${P}drain_containers_total`, { outcome: 'took_draining' }), 4);
    assert.equal(promValue(s, `${P}drain_containers_total`, { outcome: 'waited' }), 2);
  });

  it('spot fallback: containers run on demand, by the on-demand type; none while it is off', async () => {
    const m = new DispatcherMetrics(loadConfigText('Clusters: {zzzzz: {}}').cluster);
    m.attach(sources('normal', 0, 0));
    let s = parseProm(await m.text());
    assert.equal(s.filter((x) => x.name === `${P}spot_fallbacks_total`).length, 0);
    m.attach({ ...sources('normal', 0, 0), spotFallback: () => ({ containers: 5, byType: { 'm5.large': 3, 'm5.xlarge': 2 } }) });
    s = parseProm(await m.text());
    assert.equal(promValue(s, `${P}spot_fallbacks_total`, { instance_type: 'm5.large' }), 3);
    assert.equal(promValue(s, `${P}spot_fallbacks_total`, { instance_type: 'm5.xlarge' }), 2);
  });

  it('spending cap: the levels and the day\'s forecast; 0 while it is off', async () => {
    const m = new DispatcherMetrics(loadConfigText('Clusters: {zzzzz: {}}').cluster);
    m.attach(sources('normal', 0, 0));
    let s = parseProm(await m.text());
    assert.equal(promValue(s, `${P}spending_cap_dollars_per_hour`, { level: 'soft' }), 0);
    assert.equal(promValue(s, `${P}spending_cap_dollars_per_hour`, { level: 'hard' }), 0);
    assert.equal(promValue(s, `${P}spend_forecast_dollars`), 0);
    m.attach({ ...sources('normal', 0, 0), spendingCap: () => ({ soft: 30, hard: 40, burn: 38, spentToday: 100, forecastToday: 328, held: 2 }) });
    s = parseProm(await m.text());
    assert.equal(promValue(s, `${P}spending_cap_dollars_per_hour`, { level: 'soft' }), 30);
    assert.equal(promValue(s, `${P}spending_cap_dollars_per_hour`, { level: 'hard' }), 40);
    assert.equal(promValue(s, `${P}spend_forecast_dollars`), 328);
  });

  it('reports the state (one series each, 1 for the current), the limit, the last 503 and requests by outcome', async () => {
    const m = new DispatcherMetrics(loadConfigText('Clusters: {zzzzz: {}}').cluster);
    m.attach(sources('overload', 4, 1_700_000_000_500));
    let s = parseProm(await m.text());
    const states = (samples: PromSample[]) => Object.fromEntries(['normal', 'outage', 'overload'].map((st) => [st, promValue(samples, `${P}controller_state`, { state: st })]));
    assert.deepEqual(states(s), { normal: 0, outage: 0, overload: 1 });
    assert.equal(promValue(s, `${P}max_concurrent_containers`), 4);
    assert.equal(promValue(s, `${P}last_503_time`), 1_700_000_000);
    assert.deepEqual(
      ['ok', 'overload', 'failed'].map((outcome) => promValue(s, `${P}controller_requests_total`, { outcome })),
      [7, 2, 1],
    );
    m.attach(sources(undefined, 4, 0));
    s = parseProm(await m.text());
    assert.deepEqual(states(s), { normal: 1, outage: 0, overload: 0 }, 'a scheduler that says nothing: normal');
  });

  describe('on a whole dispatcher', () => {
    let stack: Stack;
    before(async () => {
      stack = await startStack();
    });
    after(async () => {
      await stack?.stop();
    });

    it('shows an outage while every request fails, keeps the limit, and goes back to normal', async () => {
      const scrape = async (): Promise<PromSample[]> => parseProm((await call(stack, 'GET', '/metrics', { token: stack.token })).text);
      await until('the first scheduling pass', () => stack.dispatcher.queue.entries().updated > 0);
      const before = promValue(await scrape(), `${P}max_concurrent_containers`);
      // Down from now on: every request 503.
      stack.controller.setOutage({ everyMs: 600_000, forMs: 600_000 });
      let s: PromSample[] = [];
      await until('controller_state outage', async () => promValue((s = await scrape()), `${P}controller_state`, { state: 'outage' }) === 1, 10_000, 100);
      assert.ok(promValue(s, `${P}last_503_time`)! > 0);
      assert.ok(promValue(s, `${P}controller_requests_total`, { outcome: 'overload' })! >= 2);
      assert.equal(promValue(s, `${P}max_concurrent_containers`), before, 'an outage does not cut the limit');
      stack.controller.setOutage(undefined);
      await until('controller_state normal', async () => promValue((s = await scrape()), `${P}controller_state`, { state: 'normal' }) === 1, 10_000, 100);
      assert.equal(promValue(s, `${P}max_concurrent_containers`), before);
    });
  });
});
