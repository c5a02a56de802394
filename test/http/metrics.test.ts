/**
 * /metrics scraped during a real run: the dispatcher on the lame cloud over
 * SSH, a few containers through to Complete. Every metric name of ARVADOS.md
 * section 7 must be there, with values that match what happened.
 */
import assert from 'node:assert/strict';
import { DispatcherMetrics } from '../../src/http/metrics.js';
import { loadConfigText } from '../../src/config/index.js';
import { call, parseProm, type PromSample, promValue, type Stack, startStack, until } from './helpers.js';

const P = 'arvados_dispatchcloud_';
/** ARVADOS.md section 7, with the labels each must carry. */
const EXPECTED: Array<[string, string[]]> = [
  ['driver_operations', ['operation', 'error']],
  ['queue_entries', ['state', 'instance_type']],
  ['containers_running', []],
  ['containers_allocated_not_started', []],
  ['containers_not_allocated_over_quota', []],
  ['containers_longest_wait_time_seconds', []],
  ['max_concurrent_containers', []],
  ['at_quota', []],
  ['instances_total', ['category', 'instance_type']],
  ['instances_price', ['category']],
  ['vcpus_total', ['category']],
  ['memory_bytes_total', ['category']],
  ['boot_outcomes', ['outcome']],
  ['instances_disappeared', ['state']],
  ['probe_age_seconds_max', []],
  ['instances_time_to_ssh_seconds_count', []],
  ['instances_time_to_ready_for_container_seconds_count', []],
  ['containers_time_from_queue_to_crunch_run_seconds_count', []],
];

describe('metrics during an end-to-end run', function () {
  this.timeout(30_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack({ transport: 'ssh' });
  });
  after(async () => {
    await stack?.stop();
  });

  async function scrape(): Promise<PromSample[]> {
    const r = await call(stack, 'GET', '/metrics', { token: stack.token });
    assert.equal(r.status, 200);
    assert.match(r.contentType, /^text\/plain/);
    return parseProm(r.text);
  }

  it('reports every metric with values that follow the run', async () => {
    const uuids = [1, 2, 3].map(() => stack.controller.addContainer({ command: ['sleep', '2'], priority: 5 }).uuid);

    // While they run.
    let during: PromSample[] = [];
    await until(
      'containers_running > 0',
      async () => {
        during = await scrape();
        return (promValue(during, `${P}containers_running`) ?? 0) > 0;
      },
      15_000,
      100,
    );
    assert.ok((promValue(during, `${P}instances_total`, { category: 'inuse', instance_type: 'small' }) ?? 0) > 0);
    assert.ok((promValue(during, `${P}instances_price`, { category: 'inuse' }) ?? 0) > 0);
    assert.ok((promValue(during, `${P}vcpus_total`, { category: 'inuse' }) ?? 0) >= 2);
    assert.ok((promValue(during, `${P}memory_bytes_total`, { category: 'inuse' }) ?? 0) >= 4 * 2 ** 30);
    // Ours: what the VMs cost now (the lame cloud quotes no spot prices: configured prices).
    assert.ok((promValue(during, `${P}cost_per_hour_dollars`) ?? 0) >= 0.1, 'at least one small VM at $0.1/h');
    const queued = during.filter((s) => s.name === `${P}queue_entries`).reduce((n, s) => n + s.value, 0);
    assert.ok(queued >= 1, 'queue_entries counts the containers');

    // After they finish.
    await until('every container to complete', () => uuids.every((u) => stack.controller.get(u)?.state === 'Complete'), 20_000, 100);
    const after = await scrape();
    for (const [name, labels] of EXPECTED) {
      const samples = after.filter((s) => s.name === P + name);
      assert.ok(samples.length > 0, `${P + name} missing`);
      for (const l of labels) assert.ok(samples.every((s) => l in s.labels), `${P + name} lacks label ${l}`);
    }
    assert.ok((promValue(after, `${P}driver_operations`, { operation: 'Create', error: '0' }) ?? 0) > 0);
    assert.ok((promValue(after, `${P}driver_operations`, { operation: 'List', error: '0' }) ?? 0) > 0);
    assert.equal(promValue(after, `${P}driver_operations`, { operation: 'Destroy', error: '1' }), 0, 'zero series exist from the start');
    assert.ok((promValue(after, `${P}boot_outcomes`, { outcome: 'success' }) ?? 0) > 0);
    assert.equal(promValue(after, `${P}boot_outcomes`, { outcome: 'failure' }), 0);
    assert.equal(promValue(after, `${P}instances_disappeared`, { state: 'running' }), 0);
    assert.ok((promValue(after, `${P}instances_time_to_ssh_seconds_count`) ?? 0) > 0);
    assert.ok((promValue(after, `${P}instances_time_to_ready_for_container_seconds_count`) ?? 0) > 0);
    assert.ok((promValue(after, `${P}containers_time_from_queue_to_crunch_run_seconds_count`) ?? 0) >= 3);
    const toCrunchRun = promValue(after, `${P}containers_time_from_queue_to_crunch_run_seconds`, { quantile: '0.5' }) ?? -1;
    assert.ok(toCrunchRun >= 0 && toCrunchRun < 20, `queue to crunch-run median ${toCrunchRun}s`);
    // Ours: the same waits by the type they started on, adding up to the reference's count when no start failed.
    const byType = after.filter((x) => x.name === `${P}queue_wait_seconds_count`);
    assert.ok(byType.length > 0 && byType.every((x) => typeof x.labels.instance_type === 'string' && x.labels.instance_type !== ''));
    assert.equal(byType.reduce((n, x) => n + x.value, 0), promValue(after, `${P}containers_time_from_queue_to_crunch_run_seconds_count`));
    // Ours: spend so far, by type and preemptible, as the dispatcher's ledger has it.
    const spent = promValue(after, `${P}spend_dollars_total`, { instance_type: 'small', preemptible: 'false' }) ?? 0;
    assert.ok(spent > 0 && spent <= stack.dispatcher.cost.read().totalDollars(), `spent ${spent}`);
    assert.equal(promValue(after, `${P}at_quota`), 0);
    assert.equal(promValue(after, `${P}max_concurrent_containers`), stack.dispatcher.scheduler.maxContainers);
    assert.equal(promValue(after, `${P}containers_longest_wait_time_seconds`), 0, 'nothing waits any more');
    const probeAge = promValue(after, `${P}probe_age_seconds_max`) ?? -1;
    assert.ok(probeAge >= 0 && probeAge < 5, `probe age ${probeAge}`);
    // Node's own process metrics are served beside them, from the process's one registry.
    assert.ok(after.some((s) => s.name === 'process_cpu_user_seconds_total'));
    assert.ok(after.some((s) => s.name === 'nodejs_eventloop_lag_seconds'));
  });
});

describe('DispatcherMetrics', () => {
  it('keeps each dispatcher on its own registry', async () => {
    const { cluster } = loadConfigText('Clusters:\n  zzzzz:\n    SystemRootToken: x\n');
    const a = new DispatcherMetrics(cluster);
    const b = new DispatcherMetrics(cluster);
    a.observeCloud('Create', undefined);
    a.observeCloud('Create', new Error('no'));
    const sa = parseProm(await a.text());
    const sb = parseProm(await b.text());
    assert.equal(promValue(sa, `${P}driver_operations`, { operation: 'Create', error: '0' }), 1);
    assert.equal(promValue(sa, `${P}driver_operations`, { operation: 'Create', error: '1' }), 1);
    assert.equal(promValue(sb, `${P}driver_operations`, { operation: 'Create', error: '0' }), 0);
  });
});
