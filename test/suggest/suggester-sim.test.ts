/**
 * The suggester on a real dispatcher (the manual stack: the test
 * controller and the lame cloud under a ManualClock) with the real
 * simulator: MaxInstances 1, one container running on the only VM, one
 * waiting behind it. The suggestion and its figures come from the runs.
 */
import assert from 'node:assert/strict';
import { settle } from '../../src/clock/index.js';
import { defaultSettings, type Settings } from '../../src/config/settings.js';
import { startManagementServer } from '../../src/http/server.js';
import { runSimulation, type SimOptions } from '../../src/sim/engine.js';
import type { SimResult } from '../../src/sim/result.js';
import { TARGET_ID } from '../../src/suggest/live-workload.js';
import { Suggester } from '../../src/suggest/suggester.js';
import { ManualStack } from '../fixtures/manual-stack.js';

const MIN = 60_000;

describe('Suggester with the real simulator', function () {
  this.timeout(60_000);
  let s: ManualStack;

  afterEach(async () => {
    await s?.close();
  });

  /** MaxInstances 1, one container running on the only VM and a second one waiting: the dispatcher and the two uuids. */
  async function oneRunningOneWaiting(opts: { settings?: Settings; managementToken?: string } = {}) {
    s = new ManualStack();
    (s.cluster.Containers.CloudVMs as { MaxInstances: number }).MaxInstances = 1;
    if (opts.managementToken) (s.cluster as { ManagementToken: string }).ManagementToken = opts.managementToken;
    const d = await s.start({ settings: opts.settings });
    const add = () => s.controller.addContainer({ priority: 1, command: ['sleep', '3600'], runtime_constraints: { vcpus: 2, ram: 1 << 20 } }).uuid;
    const first = add();
    await s.until('the first running', () => s.controller.get(first)?.state === 'Running');
    return { d, first, second: add() };
  }

  it('at MaxInstances 1 with a long container running: MaxInstances 2 would start the waiting one sooner, by the runs', async () => {
    const settings = defaultSettings();
    // The dispatcher's own suggester stays off: the test drives one it can watch.
    const { d, second } = await oneRunningOneWaiting({ settings: { ...settings, Suggestions: { ...settings.Suggestions, Enable: false } } });
    await s.run(2 * MIN, 1000);
    assert.equal(d.scheduler.why()?.blockerOf(second)?.reason, 'quota');

    const starts: Array<number | undefined> = [];
    const runs: SimOptions[] = [];
    const ends: number[] = [];
    const recorded: SimResult[] = [];
    const suggester = new Suggester({
      clock: s.clock,
      logger: s.log,
      settings: { Enable: true, After: MIN, Horizon: 30 * MIN, MaxCPUFraction: 1 },
      cluster: d.cluster,
      scheduler: d.scheduler,
      pool: d.pool,
      queue: d.queue,
      estimator: d.estimator,
      simulate: async (o) => {
        runs.push(o);
        const r = await runSimulation(o);
        recorded.push(r);
        const t = r.containers.find((c) => c.id === TARGET_ID);
        starts.push(t?.runningAt === undefined ? undefined : t.runningAt - r.startedAt);
        ends.push(r.endedAt - r.startedAt);
        return r;
      },
    });
    let done = false;
    void suggester.round().finally(() => (done = true));
    // The runs take wall time, not the stack's: its clock stands still (but for rests of 0 ms) until the round ends or mocha's timeout.
    while (!done) {
      await s.clock.runTo(s.clock.now());
      await settle(4);
    }

    assert.deepEqual(
      runs.map((r) => r.cluster.Containers.CloudVMs.MaxInstances),
      [1, 2],
    );
    // The running container is in each run, with the waiting one behind it.
    assert.deepEqual(
      runs[0].workload.containers.map((c) => c.id),
      ['running-0', TARGET_ID],
    );
    const [baseline, raised] = starts;
    assert.ok(baseline !== undefined && raised !== undefined, `starts ${String(starts)}`);
    // No run makes start-time forecasts: nothing of them is read, and they cost a fifth of a run.
    assert.deepEqual(
      runs.map((r) => r.forecasts),
      [false, false],
    );
    assert.deepEqual(
      recorded.map((r) => r.estimates.length),
      [0, 0],
      'no forecast was made',
    );
    assert.ok(raised < baseline - MIN, `MaxInstances 2 starts it at ${raised} ms, the baseline at ${baseline} ms`);
    // Each run stops within seconds of the container starting (checked every simulated second), not at the horizon.
    assert.deepEqual(
      ends.map((e, i) => e - starts[i]! <= 2000),
      [true, true],
      `ends ${String(ends)}`,
    );
    const got = suggester.suggestions(second);
    assert.equal(got?.length, 1);
    assert.equal(got[0].change, 'MaxInstances 2 (+1)');
    const fmt = (ms: number) => (ms < MIN ? `~${Math.round(ms / 1000)} s` : `~${Math.round(ms / MIN)} min`);
    assert.equal(got[0].effect, `would start it in ${fmt(raised)} instead of ${fmt(baseline)}`);
  });

  it("the dispatcher's own suggester finds it on its rounds, and the management API serves it on the container's item", async () => {
    const token = 'suggesterTestManagementTokenXXXXXXXXXXXXXXXXXXX';
    const { d, first, second } = await oneRunningOneWaiting({ managementToken: token });
    // Rounds every 30 s once it has waited a minute; each run's rest (9 x its wall time at the default tenth of a CPU) is on this clock.
    await s.until('a suggestion', () => d.suggester.suggestions(second) !== undefined, 60 * MIN);
    assert.equal(d.suggester.suggestions(second)![0].change, 'MaxInstances 2 (+1)');
    assert.equal(d.suggester.suggestions(first), undefined);

    const server = await startManagementServer(d, { listen: '127.0.0.1:0' });
    try {
      const res = await fetch(`${server.url}/arvados/v1/dispatch/containers`, { headers: { Authorization: `Bearer ${token}` } });
      assert.equal(res.status, 200);
      const items = ((await res.json()) as { items: Array<{ container: { uuid: string }; suggestions?: unknown }> }).items;
      const item = items.find((i) => i.container.uuid === second);
      assert.deepEqual(item?.suggestions, d.suggester.suggestions(second));
    } finally {
      await server.close();
    }
  });

  it('small at capacity, MaximumPriceFactor leaving out large: MaximumPriceFactor 4 would start it, where nothing would within the horizon', async () => {
    s = new ManualStack({ params: { CapacityErrorTypes: ['small'] } });
    const d = await s.start();
    const uuid = s.controller.addContainer({ priority: 1, command: ['sleep', '3600'], runtime_constraints: { vcpus: 2, ram: 1 << 20 } }).uuid;
    await s.until('a suggestion', () => d.suggester.suggestions(uuid) !== undefined, 60 * MIN);
    assert.equal(d.scheduler.why()?.blockerOf(uuid)?.reason, 'types_at_capacity');
    const got = d.suggester.suggestions(uuid)!;
    assert.equal(got.length, 1);
    assert.equal(got[0].change, 'MaximumPriceFactor 4');
    // No VM has booted here yet, so the simulated boots take the default boot time (Estimates.DefaultBootTime, 3m).
    assert.equal(got[0].effect, 'would start it in ~3 min instead of not within the 30 min horizon');
  });
});
