/**
 * The metrics the reference registers besides the dispatcher's own state:
 * pool timings (probe age median, shutdown to disappearance, run-probe
 * duration), the service's version and config timestamps (on the
 * management server's own registry: they outlive any one dispatcher), with the
 * reference's names, types, labels and help texts; and the values they take.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash } from 'node:crypto';
import { loadConfigText } from '../../src/config/index.js';
import { DispatcherMetrics } from '../../src/http/metrics.js';
import { configSourceOf, registerConfigSource, registerVersion } from '../../src/http/service-metrics.js';
import { Registry } from 'prom-client';
import type { PoolEvent } from '../../src/worker/pool.js';
import { Harness } from '../worker/helpers.js';
import { noSources, parseProm, promValue } from './helpers.js';

const P = 'arvados_dispatchcloud_';

function newMetrics(): DispatcherMetrics {
  return new DispatcherMetrics(loadConfigText('Clusters: {zzzzz: {}}').cluster);
}

/** `# HELP` and `# TYPE` of `name` in an exposition. */
function declared(text: string, name: string): { help: string; type: string } {
  const help = new RegExp(`^# HELP ${name} (.*)$`, 'm').exec(text)?.[1];
  const type = new RegExp(`^# TYPE ${name} (.*)$`, 'm').exec(text)?.[1];
  assert.ok(help !== undefined && type !== undefined, `${name} is not registered`);
  return { help, type };
}

describe('metrics the reference registers', function () {
  this.timeout(20_000);

  it('registers them with the reference\'s names, types, labels and help texts', async () => {
    const m = newMetrics();
    m.observePool({ type: 'shutdownToGone', instanceId: 'i', sinceShutdownMs: 1 });
    m.observePool({ type: 'probeRun', instanceId: 'i', outcome: 'success', durationMs: 1 });
    const service = new Registry();
    registerVersion(service);
    registerConfigSource(service, { sha256: 'ab', sourceTimestampMs: 1, loadTimestampMs: 2 });
    const text = (await m.text()) + (await service.metrics());
    const want: Array<[string, string, string]> = [
      [`${P}probe_age_seconds_median`, 'gauge', "Median number of seconds since an instance's most recent successful probe."],
      [`${P}instances_time_from_shutdown_request_to_disappearance_seconds`, 'summary', 'Number of seconds between the first shutdown attempt and the disappearance of the worker.'],
      [`${P}instances_run_probe_duration_seconds`, 'summary', 'Number of seconds per runProbe call.'],
      ['arvados_config_source_timestamp_seconds', 'gauge', 'Timestamp of config file when it was loaded.'],
      ['arvados_config_load_timestamp_seconds', 'gauge', 'Time when config file was loaded.'],
    ];
    for (const [name, type, help] of want) assert.deepEqual(declared(text, name), { help, type }, name);
    // The reference's summary quantiles.
    const quantiles = parseProm(text)
      .filter((s) => s.name === `${P}instances_run_probe_duration_seconds` && s.labels.quantile !== undefined)
      .map((s) => [s.labels.outcome, s.labels.quantile]);
    assert.deepEqual(quantiles, [
      ['success', '0.5'],
      ['success', '0.9'],
      ['success', '0.95'],
      ['success', '0.99'],
    ]);
  });

  it('the package version is arvados_dispatchcloud_build_info{version}, never arvados_version_running', async () => {
    const service = new Registry();
    registerVersion(service);
    const text = await service.metrics();
    assert.equal(promValue(parseProm(text), 'arvados_dispatchcloud_build_info', { version: '0.1.0' }), 1);
    // What the cluster health check's scrape looks for on each line (it would compare 0.1.0 with its Arvados release).
    assert.doesNotMatch(text, /arvados_version_running\{version="[^"]+"\} 1/);
  });

  it('arvados_config_{source,load}_timestamp_seconds{sha256}: the file\'s mtime and the load time, labelled by its hash', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'config-source-'));
    try {
      const path = join(dir, 'config.yml');
      writeFileSync(path, 'Clusters: {zzzzz: {}}\n');
      utimesSync(path, 1_700_000_000, 1_700_000_000);
      const source = configSourceOf(path, 1_800_000_000_500);
      assert.ok(source);
      const service = new Registry();
      registerConfigSource(service, source);
      const sha256 = createHash('sha256').update('Clusters: {zzzzz: {}}\n').digest('hex');
      const samples = parseProm(await service.metrics());
      assert.equal(promValue(samples, 'arvados_config_source_timestamp_seconds', { sha256 }), 1_700_000_000);
      assert.equal(promValue(samples, 'arvados_config_load_timestamp_seconds', { sha256 }), 1_800_000_000.5);
      assert.equal(configSourceOf(join(dir, 'missing.yml'), 0), undefined);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe('from the pool', () => {
    let h: Harness;
    afterEach(async () => {
      await h?.stop();
    });

    it('probe_age_seconds_median: the median age of the workers\' last successful probes, shut-down ones included', async () => {
      h = await Harness.start({ controller: false, params: { DestroyDelay: '1h' }, cloudVMs: { TimeoutIdle: 3_600_000, ProbeInterval: 3_600_000, TimeoutProbe: 3_600_000 } });
      h.pool.start();
      await h.tick(0);
      assert.equal(h.pool.stats().medianProbeAgeMs, 0, 'no workers');
      const a = await h.createIdle();
      const b = await h.createIdle();
      const c = await h.createIdle();
      const age = (id: string): number => h.clock.now() - h.pool.detail(id)!.lastProbeAt;
      // Probes of a, then b, start failing: their last successes age.
      h.unreachable.add(a);
      await h.tick(10_000);
      void h.pool.probeNow();
      await h.tick(1_000);
      h.unreachable.add(b);
      await h.tick(10_000);
      void h.pool.probeNow();
      await h.tick(1_000);
      assert.ok(age(a) > age(b) && age(b) > age(c), `${age(a)} ${age(b)} ${age(c)}`);
      assert.equal(h.pool.stats().medianProbeAgeMs, age(b));
      assert.equal(h.pool.stats().maxProbeAgeMs, age(a));
      // c shut down: no longer probed, still counted. With four workers the
      // reference takes the younger middle one (index n/2, oldest first): c.
      h.pool.killInstance(c, 'test');
      const d = await h.createIdle();
      assert.equal(h.pool.detail(c)?.workerState, 'shutdown');
      assert.ok(age(b) > age(c) && age(c) > age(d));
      assert.equal(h.pool.stats().medianProbeAgeMs, age(c));
      const m = newMetrics();
      m.attach({ ...noSources(), poolStats: () => h.pool.stats() });
      assert.equal(promValue(parseProm(await m.text()), `${P}probe_age_seconds_median`), age(c) / 1000);
    });

    it('instances_time_from_shutdown_request_to_disappearance_seconds: from the latest destroy request to the listing without it', async () => {
      const events: PoolEvent[] = [];
      const m = newMetrics();
      h = await Harness.start({
        controller: false,
        params: { DestroyDelay: '30s' },
        cloudVMs: { TimeoutIdle: 3_600_000, SyncInterval: 3_600_000 },
        onEvent: (e) => {
          events.push(e);
          m.observePool(e);
        },
      });
      h.pool.start();
      await h.tick(0);
      const id = await h.createIdle();
      h.pool.killInstance(id, 'test');
      await h.tick(30_000);
      await h.pool.syncNow();
      assert.equal(h.pool.detail(id), undefined, 'gone');
      const gone = events.filter((e) => e.type === 'shutdownToGone');
      assert.deepEqual(gone, [{ type: 'shutdownToGone', instanceId: id, sinceShutdownMs: 30_000 }]);
      const samples = parseProm(await m.text());
      assert.equal(promValue(samples, `${P}instances_time_from_shutdown_request_to_disappearance_seconds_count`), 1);
      assert.equal(promValue(samples, `${P}instances_time_from_shutdown_request_to_disappearance_seconds_sum`), 30);
    });

    it('containers_time_from_queue_to_crunch_run_seconds: every --detach that returned, failed ones too; queue_wait_seconds: the starts alone, by type; crunch_run_starts_total: each by outcome', async () => {
      const m = newMetrics();
      m.observePool({ type: 'crunchRunStartReturned', instanceId: 'i', containerUUID: 'c', sinceQueuedMs: 40_000, outcome: 'failed' });
      m.observePool({ type: 'crunchRunStartReturned', instanceId: 'i', containerUUID: 'c', sinceQueuedMs: 100_000, outcome: 'started' });
      m.observePool({ type: 'crunchRunStartReturned', instanceId: 'i', containerUUID: 'd', sinceQueuedMs: NaN, outcome: 'started' });
      m.observePool({ type: 'crunchRunStarted', instanceId: 'i', containerUUID: 'c', sinceQueuedMs: 100_000, instanceType: 'small' });
      const samples = parseProm(await m.text());
      assert.equal(promValue(samples, `${P}containers_time_from_queue_to_crunch_run_seconds_count`), 2, 'the failed attempt at 40 s and the start at 100 s');
      assert.equal(promValue(samples, `${P}containers_time_from_queue_to_crunch_run_seconds_sum`), 140);
      assert.equal(promValue(samples, `${P}queue_wait_seconds_count`, { instance_type: 'small' }), 1, 'the start only');
      // Ours: every attempt by outcome, a container with no readable created_at too, and a zero series for each outcome from the start.
      const starts = (outcome: string) => promValue(samples, `${P}crunch_run_starts_total`, { outcome });
      assert.deepEqual([starts('started'), starts('failed'), starts('unknown')], [2, 1, 0]);
    });

    it('instances_run_probe_duration_seconds{outcome}: each crunch-run --list probe, success or fail', async () => {
      const events: PoolEvent[] = [];
      h = await Harness.start({ controller: false, cloudVMs: { TimeoutIdle: 3_600_000, TimeoutProbe: 3_600_000 }, onEvent: (e) => events.push(e) });
      h.pool.start();
      await h.tick(0);
      const id = await h.createIdle();
      h.unreachable.add(id);
      await h.pool.probeNow();
      await h.tick(0);
      const runs = events.filter((e): e is Extract<PoolEvent, { type: 'probeRun' }> => e.type === 'probeRun');
      assert.deepEqual(
        runs.map((e) => [e.instanceId, e.outcome]),
        [
          [id, 'success'],
          [id, 'fail'],
        ],
      );
      const m = newMetrics();
      for (const e of runs) m.observePool(e);
      const samples = parseProm(await m.text());
      assert.equal(promValue(samples, `${P}instances_run_probe_duration_seconds_count`, { outcome: 'success' }), 1);
      assert.equal(promValue(samples, `${P}instances_run_probe_duration_seconds_count`, { outcome: 'fail' }), 1);
    });
  });
});
