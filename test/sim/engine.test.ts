import assert from 'node:assert/strict';
import { lameClouds } from '../../drivers/lame/index.js';
import { runSimulation, simCluster } from '../../src/sim/engine.js';
import { containerSeed } from '../../src/sim/player.js';
import type { SimResult } from '../../src/sim/result.js';
import { buildReport, type SimReport } from '../../src/sim/report.js';
import { formatSummary } from '../../src/sim/summary.js';
import { generateWorkload, parseWorkload, type Workload } from '../../src/sim/workload.js';
import { simConfig, TRACE } from './helpers.js';

function workload(json: unknown = TRACE, seed?: number): Workload {
  return parseWorkload(json, { seed });
}

function withoutHost(r: SimReport): Omit<SimReport, 'host'> {
  const { host: _host, ...rest } = r;
  return rest;
}

describe('simulator engine', function () {
  this.timeout(30_000);

  let result: SimResult;
  let report: SimReport;
  before(async () => {
    result = await runSimulation({ cluster: simConfig(), workload: workload() });
    report = buildReport(result);
  });

  it('runs a small workload to completion: every container Complete, no VM left', () => {
    assert.equal(result.finished, true);
    assert.equal(result.containers.length, 11);
    for (const c of result.containers) assert.equal(c.state, 'Complete', `${c.id} ended ${c.state}`);
    assert.equal(result.ledger.liveCount, 0);
    for (const vm of result.ledger.vms.values()) assert.ok(vm.destroyedAt !== undefined && vm.destroyedAt > vm.createdAt, vm.id);
    // The run's cloud is dropped afterwards, so repeated runs in one process do not share VMs.
    assert.deepEqual(
      lameClouds().filter((c) => c.name.startsWith('sim-')),
      [],
    );
  });

  it('runs each container on a type that fits, for about its runtime, with its exit code', () => {
    const byId = new Map(result.containers.map((c) => [c.id, c]));
    const a = byId.get('a')!;
    const ran = a.finalAt! - a.runningAt!;
    assert.ok(ran >= 5 * 60_000 && ran < 5 * 60_000 + 5_000, `a ran ${ran} ms`);
    assert.equal(byId.get('f')!.exitCode, 3);
    assert.equal(byId.get('a')!.exitCode, 0);
    assert.equal(byId.get('g')!.lowerBoundType, 'gpu');
    assert.equal(byId.get('e')!.lowerBoundType, 'large');
    assert.equal(byId.get('d')!.lowerBoundType, 'small.preemptible');
    const types = new Map([...result.ledger.vms.values()].map((v) => [v.id, v.type]));
    assert.equal(types.get(byId.get('g')!.vm!), 'gpu');
    assert.equal(types.get(byId.get('e')!.vm!), 'large');
  });

  it('keeps a workflow runner running until its children are done, submitting them relative to its start', () => {
    const byId = new Map(result.containers.map((c) => [c.id, c]));
    const w = byId.get('w')!;
    for (const [id, at] of [
      ['w1', 30_000],
      ['w2', 60_000],
      ['w3', 300_000],
    ] as const) {
      const ch = byId.get(id)!;
      assert.equal(ch.submittedAt! - w.runningAt!, at, id);
      assert.ok(w.finalAt! >= ch.finalAt!, `runner finished before ${id}`);
    }
    // It ends soon after its last child, not after the 10-year sleep its command asks for.
    const lastChild = Math.max(...['w1', 'w2', 'w3'].map((id) => byId.get(id)!.finalAt!));
    assert.ok(w.finalAt! - lastChild < 1000, `runner ended ${w.finalAt! - lastChild} ms after its last child`);
    // Its ideal time is its children's critical path: w2 at 1m + 6m.
    assert.equal(w.idealMs, 420_000);
  });

  it('reports cost at or above the lower bound, with parts that add up', () => {
    const c = report.cost;
    assert.ok(c.lowerBound > 0);
    assert.ok(c.total >= c.lowerBound, `cost ${c.total} < bound ${c.lowerBound}`);
    assert.equal(c.ratio, Math.round((c.total / c.lowerBound) * 1e4) / 1e4);
    const sum = c.lowerBound + c.extra.boot + c.extra.idle + c.extra.packing + c.extra.extraRunTime;
    assert.ok(Math.abs(sum - c.total) < 1e-5, `${sum} != ${c.total}`);
    // Boot 30-90 s per VM: some boot cost, and the idle tail (TimeoutIdle) is paid too.
    assert.ok(c.extra.boot > 0);
    assert.ok(c.extra.idle > 0);
    const byTypeTotal = Object.values(c.byType).reduce((s, t) => s + t.cost, 0);
    assert.ok(Math.abs(byTypeTotal - c.total) < 1e-5);
  });

  it('reports queue waits, makespan, VMs and cloud calls', () => {
    const q = report.queueWait;
    assert.equal(q.count, 11);
    // Nothing can start before a VM has booted (30 s at least).
    assert.ok(q.p50Ms >= 30_000 && q.p50Ms <= q.p95Ms && q.p95Ms <= q.maxMs, JSON.stringify(q));
    assert.ok(q.maxMs < 10 * 60_000);
    assert.ok(report.makespanMs >= 2 * 60_000 + 360_000, `makespan ${report.makespanMs}`);
    assert.ok(report.simulatedMs >= report.makespanMs);
    assert.equal(report.vms.created, result.ledger.vms.size);
    assert.ok(report.vms.created >= 2 && report.vms.peak >= 2 && report.vms.peak <= report.vms.created);
    assert.ok(report.vms.bootMedianMs >= 30_000 && report.vms.bootMedianMs <= 100_000, `boot ${report.vms.bootMedianMs}`);
    assert.equal(report.cloudCalls.create.calls, report.vms.created);
    assert.equal(report.cloudCalls.destroy.calls, report.vms.created);
    assert.ok(report.cloudCalls.list.calls > 0);
    assert.deepEqual(report.cancelled, []);
    assert.ok(report.timeline.length > 5);
    assert.ok(report.timeline.some((s) => (s.vms.running ?? 0) > 0 && s.running > 0));
    assert.ok(report.host.wallMs > 0 && report.host.peakRssBytes > 0);
  });

  it('gives the same report for the same seed, and a different one for another seed', async () => {
    const again = buildReport(await runSimulation({ cluster: simConfig(), workload: workload() }));
    assert.equal(JSON.stringify(withoutHost(again)), JSON.stringify(withoutHost(report)));
    const other = buildReport(await runSimulation({ cluster: simConfig(), workload: workload(), seed: 12 }));
    assert.notEqual(JSON.stringify(withoutHost(other)), JSON.stringify(withoutHost(report)));
  });

  it('shows cloud faults in the call counts: quota, capacity and create errors', async () => {
    const wl = workload({
      name: 'faults',
      seed: 3,
      // Each needs a whole "small" (2 VCPUs, 8 GiB), or half a "medium".
      groups: [{ count: 12, arrival: { uniform: { from: 0, until: '2m' } }, vcpus: 2, ram: '6GiB', runtime: '3m' }],
    });
    const r = buildReport(
      await runSimulation({
        // Price factor 2.5: "medium" is then eligible when "small" is out of stock.
        cluster: simConfig({ QuotaMaxInstances: 3, CapacityErrorTypes: ['small'], ErrorRateCreate: 0.3 }, '      MaximumPriceFactor: 2.5'),
        workload: wl,
        limitMs: 3_600_000,
      }),
    );
    assert.equal(r.finished, true);
    assert.equal(r.containers.complete, 12);
    const errors = r.cloudCalls.create.errors;
    assert.ok((errors.QuotaError ?? 0) > 0, JSON.stringify(errors));
    assert.ok((errors.CapacityError ?? 0) > 0, JSON.stringify(errors));
    assert.ok((errors.Error ?? 0) > 0, JSON.stringify(errors));
    const failed = Object.values(errors).reduce((a, b) => a + b, 0);
    assert.equal(r.cloudCalls.create.calls, r.vms.created + failed);
    // "small" was never available: everything ran on "medium", two at a time, never more than 3 VMs.
    assert.deepEqual(Object.keys(r.cost.byType), ['medium']);
    assert.ok(r.vms.peak <= 3);
    assert.ok(r.queueWait.maxMs > 3 * 60_000, 'quota made some wait for a VM to free up');
  });

  it('lists cancelled containers with their reasons, and a runner cancelled takes its children along', async () => {
    const wl = workload({
      name: 'cancels',
      seed: 4,
      containers: [
        { id: 'huge', at: 0, vcpus: 64, ram: '1GiB', runtime: '1m' },
        { id: 'ok', at: 0, vcpus: 1, ram: '1GiB', runtime: '1m' },
        {
          id: 'runner',
          at: 0,
          vcpus: 1,
          ram: '1TiB',
          runtime: '1m',
          supervisor: true,
          children: [{ id: 'child', at: '1m', vcpus: 1, ram: '1GiB', runtime: '1m' }],
        },
      ],
    });
    const res = await runSimulation({ cluster: simConfig(), workload: wl });
    const r = buildReport(res);
    assert.equal(r.finished, true);
    assert.equal(r.containers.complete, 1);
    assert.equal(r.containers.cancelled, 2);
    assert.equal(r.containers.neverSubmitted, 1);
    assert.deepEqual(
      r.cancelled.map((x) => [x.reason, x.count, x.examples.map((e) => e.id).sort()]),
      [['constraints not satisfiable by any configured instance type', 2, ['huge', 'runner']]],
    );
    // Neither cancelled container adds to the lower bound.
    const ok = res.containers.find((c) => c.id === 'ok')!;
    assert.ok(Math.abs(r.cost.lowerBound - (60_000 * ok.lowerBoundPrice!) / 3_600_000) < 1e-6);
  });

  it('runs a container whose sizes come out fractional: the controller gets whole bytes, as it stores them', async () => {
    const w = parseWorkload({
      name: 'fractional',
      seed: 1,
      containers: [{ id: 'f', at: 0, vcpus: 1, ram: 1.5, scratch: 1000.5, runtime: '2m' }],
    });
    assert.equal(w.containers[0].ram, 1.5);
    const seed = containerSeed(simConfig(), w.containers[0]);
    assert.equal(seed.runtime_constraints?.ram, 2);
    assert.deepEqual(seed.mounts, { '/tmp': { kind: 'tmp', capacity: 1001 } });
    // The queue takes only whole bytes from the controller: this container would otherwise wait forever.
    const res = await runSimulation({ cluster: simConfig(), workload: w, limitMs: 3_600_000 });
    assert.equal(res.finished, true);
    assert.equal(res.containers[0].state, 'Complete');
  });

  it('submits a child that waits for siblings once they have ended, and never one whose sibling failed', async () => {
    const wl = workload({
      name: 'stages',
      seed: 5,
      containers: [
        {
          id: 'runner',
          at: 0,
          vcpus: 1,
          ram: '1GiB',
          runtime: '1m',
          supervisor: true,
          children: [
            { id: 'short', at: '10s', vcpus: 1, ram: '1GiB', runtime: '2m' },
            { id: 'long', at: '10s', vcpus: 1, ram: '1GiB', runtime: '7m' },
            { id: 'bad', at: '10s', vcpus: 1, ram: '1GiB', runtime: '1m', exitCode: 1 },
            { id: 'next', at: '30s', vcpus: 2, ram: '2GiB', runtime: '1m', after: ['short', 'long'] },
            { id: 'merge', at: '5s', vcpus: 1, ram: '1GiB', runtime: '1m', after: ['next'] },
            { id: 'blocked', at: '5s', vcpus: 1, ram: '1GiB', runtime: '1m', after: ['next', 'bad'] },
            { id: 'downstream', at: '5s', vcpus: 1, ram: '1GiB', runtime: '1m', after: ['blocked'] },
          ],
        },
      ],
    });
    const res = await runSimulation({ cluster: simConfig(), workload: wl });
    const r = buildReport(res);
    assert.equal(r.finished, true);
    const by = (id: string) => res.containers.find((c) => c.id === id)!;
    const lastEnd = Math.max(by('short').finalAt!, by('long').finalAt!);
    // Not on the timetable (10 s + 7 min + 30 s after the runner started) but 30 s after the later of the two ended.
    assert.equal(by('next').submittedAt, lastEnd + 30_000);
    assert.ok(by('long').submittedAt! + 7 * 60_000 < lastEnd, 'the long child waited for a VM, so its end was later than ideal');
    assert.equal(by('merge').submittedAt, by('next').finalAt! + 5_000);
    assert.equal(by('merge').state, 'Complete');
    // A failed sibling: never submitted, nor what waits for it; the runner still finishes.
    assert.equal(by('blocked').submittedAt, undefined);
    assert.equal(by('downstream').submittedAt, undefined);
    assert.equal(r.containers.neverSubmitted, 2);
    assert.equal(by('runner').state, 'Complete');
    assert.ok(by('runner').finalAt! >= by('merge').finalAt!);
    // The ideal run time follows the longest chain, as if nothing failed: long, next, blocked, downstream.
    assert.equal(by('runner').idealMs, 10_000 + 7 * 60_000 + (30_000 + 60_000) + (5_000 + 60_000) * 2);
  });

  it("gives workflow children's waits by stage when the generator's child groups are named", async () => {
    const wl = generateWorkload(
      {
        name: 'named-stages',
        groups: [
          {
            count: 2,
            arrival: { burst: {} },
            ram: '1GiB',
            supervisor: {
              children: [
                { name: 'scatter', count: 3, arrival: { burst: { at: '10s' } }, ram: '1GiB', runtime: '2m' },
                { count: 1, arrival: { afterPrevious: { gap: '10s', onEnd: true } }, ram: '1GiB', runtime: '1m' },
                { name: 'merge', count: 1, arrival: { afterPrevious: { gap: '10s', onEnd: true } }, vcpus: 4, ram: '4GiB', runtime: '1m' },
              ],
            },
          },
        ],
      },
      3,
    );
    const res = await runSimulation({ cluster: simConfig(), workload: wl });
    const r = buildReport(res);
    assert.equal(r.containers.complete, 12);
    const byStage = r.childrenQueueWaitByStage!;
    assert.deepEqual(Object.keys(byStage), ['scatter', 'merge'], 'the unnamed group has no stage');
    assert.deepEqual([byStage.scatter.count, byStage.merge.count], [6, 2]);
    const merges = res.containers.filter((c) => c.stage === 'merge').map((c) => c.runningAt! - c.submittedAt!).sort((a, b) => a - b);
    assert.equal(byStage.merge.maxMs, merges[1]);
    assert.match(formatSummary(r), /\n {2}by stage: scatter \(6\) p50 \S+, p95 \S+; merge \(2\) p50 \S+, p95 \S+\.\n/);
    // Without names, no breakdown.
    const plain = buildReport(await runSimulation({ cluster: simConfig(), workload: workload(TRACE) }));
    assert.equal(plain.childrenQueueWaitByStage, undefined);
  });
});

describe('simulator cluster', () => {
  it("runs the lame cloud in-process with the run's seed and name: a remote lame cloud's CloudURL is dropped, another driver is replaced with a note", () => {
    const base = simConfig({ CloudURL: 'http://lame.example:9999', MinBootTime: '2s' });
    const notes: string[] = [];
    const sim = simCluster(base, 7, 'sim-remote', notes);
    const { CloudURL: _url, ...kept } = base.Containers.CloudVMs.DriverParameters;
    assert.deepEqual(sim.Containers.CloudVMs.DriverParameters, { ...kept, Transport: 'inprocess', Seed: 7, CloudName: 'sim-remote' });
    assert.deepEqual(notes, []);
    const ec2 = { ...base, Containers: { ...base.Containers, CloudVMs: { ...base.Containers.CloudVMs, Driver: 'ec2', DriverParameters: { Region: 'us-east-1' } } } };
    const replaced = simCluster(ec2, 7, 'sim-ec2', notes);
    assert.equal(replaced.Containers.CloudVMs.Driver, 'lame');
    assert.deepEqual(replaced.Containers.CloudVMs.DriverParameters, { Transport: 'inprocess', Seed: 7, CloudName: 'sim-ec2' });
    assert.match(notes.join('\n'), /^Driver ec2 replaced by the lame cloud/);
  });

  it('leaves the event feed out, saying so: the simulated controller has none, and its clock is not real', () => {
    const base = simConfig();
    const notes: string[] = [];
    const withFeed = { ...base, Services: { ...base.Services, Websocket: { ExternalURL: 'wss://ws.zzzzz.example.com/websocket' } } };
    const sim = simCluster(withFeed, 1, 'sim-feed-note', notes);
    assert.equal(sim.Services.Websocket.ExternalURL, '');
    assert.ok(notes.some((n) => n.startsWith('Services.Websocket.ExternalURL ignored')), notes.join('; '));
    const quiet: string[] = [];
    simCluster(base, 1, 'sim-feed-note', quiet);
    assert.ok(!quiet.some((n) => n.includes('Websocket')));
  });
});
