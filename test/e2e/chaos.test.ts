/**
 * Chaos, end to end: the real daemon (`node scripts/from-sources.mjs
 * --config FILE`, a child process) runs 150 containers on the lame cloud,
 * served by its own `lame-cloud` child process, over real SSH, against the
 * in-process test controller, while everything goes wrong at once:
 *
 * - the cloud: 10% of creates and destroys fail, a quota of 10 instances
 *   (the dispatcher guesses 8 to start with), one instance type always out
 *   of capacity, some VMs never finish booting, some break a few seconds
 *   after boot, 10% of crunch-runs die mid-run without a word;
 * - the controller: a burst of 503s;
 * - the dispatcher: stopped with SIGTERM and started again, then killed
 *   with SIGKILL and started again. The lame cloud keeps its VMs and
 *   crunch-runs; each new dispatcher must adopt them.
 *
 * It passes when every container ends Complete, or Cancelled with a reason
 * (its runtime_status.error, or the dispatcher's log line for its cancel);
 * no container ever had two live crunch-runs (sampled from the cloud every
 * 200 ms) nor went Running twice (the controller's history); the cloud never
 * held more instances than its quota; and once the queue is empty, every VM
 * is destroyed. Logs of every process go to files under the temp dir; their
 * paths and tails are in every failure message.
 *
 * Knobs for a human chasing a failure: CHAOS_SEED=N repeats the lame cloud's
 * random choices of a run (its report prints the seed; timing still varies),
 * CHAOS_LOG_LEVEL=debug makes the daemons log more, CHAOS_KEEP_LOGS=1 keeps
 * the logs of a passing run.
 */
import assert from 'node:assert/strict';
import { randomBytes, randomInt } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync, writeFileSync, type WriteStream } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LameCloudAdmin } from '../../drivers/lame/chaos-client.js';
import { createLogger } from '../../src/log.js';
import { GIVE_UP_REASON } from '../../src/sim/chaos-checks.js';
import { generateSshKeyPair } from '../../src/ssh/keys.js';
import { type ControllerContainer, TestController } from '../fixtures/controller.js';
import { chaosConfigYAML, DaemonProcess, logRecords, sleep, tail, VMSampler, waitUntil } from './chaos-helpers.js';

const CONTAINERS = 150;
const QUOTA = 10;
const MAX_DISPATCH_ATTEMPTS = 5;
/** The 6-VCPU type is always out of capacity; its containers must go to the next eligible type. */
const CAPACITY_ERROR_TYPE = 'lame.c6';
const GiB = 1 << 30;

/**
 * When each disruption happens: the 503 burst and the SIGKILL at these
 * progress marks (containers final); the clean restart a while after the
 * burst, whatever the progress (after 503s the dispatcher may hold its
 * concurrency down for a quiet period, by design).
 */
const AT_503_BURST = 30;
const CLEAN_RESTART_AFTER_BURST_MS = 8_000;
const AT_KILL_RESTART = 85;
const BURST_REQUESTS = 30;
const BURST_MS = 5_000;

/**
 * Bounds: the whole workload (it usually takes 55-75 s), and the cloud
 * emptying after it (TimeoutIdle is 2 s; failed destroys are retried after
 * TimeoutShutdown).
 */
const WORKLOAD_DEADLINE_MS = 130_000;
const CLOUD_EMPTY_DEADLINE_MS = 30_000;

const FINAL = new Set(['Complete', 'Cancelled']);

describe('chaos: the daemon on a faulty lame cloud, with a 503 burst and two restarts', function () {
  this.timeout(WORKLOAD_DEADLINE_MS + CLOUD_EMPTY_DEADLINE_MS + 30_000);

  // The lame cloud's random choices; CHAOS_SEED=N repeats a run's (timing still varies).
  const seed = process.env.CHAOS_SEED ? Number(process.env.CHAOS_SEED) : randomInt(1, 2 ** 31);
  let dir: string;
  let controllerLog: string;
  let cloudLog: string;
  let controllerStream: WriteStream;
  let controller: TestController;
  let cloud: DaemonProcess | undefined;
  let admin: LameCloudAdmin;
  let sampler: VMSampler | undefined;
  /** Set when the test passed: its logs are then removed, unless CHAOS_KEEP_LOGS is set. */
  let passed = false;
  let dispatcherConfig: string;
  const dispatchers: DaemonProcess[] = [];
  const killAll = (): void => {
    for (const d of dispatchers) d.killNow();
    cloud?.killNow();
  };

  /** Every log's path and tail, for assertion messages. */
  const logs = (lines = 25): string =>
    [
      `logs in ${dir}:`,
      ...dispatchers.map((d) => `--- ${d.logPath} (tail)\n${tail(d.logPath, lines)}`),
      `--- ${cloudLog} (tail)\n${tail(cloudLog, lines)}`,
      `--- ${controllerLog} (tail)\n${tail(controllerLog, 10)}`,
    ].join('\n');

  function startDispatcher(): DaemonProcess {
    const n = dispatchers.length + 1;
    const d = new DaemonProcess(`dispatcher-${n}`, ['--config', dispatcherConfig], join(dir, `dispatcher-${n}.log`));
    dispatchers.push(d);
    return d;
  }

  const current = (): DaemonProcess => dispatchers[dispatchers.length - 1];

  before(async function () {
    this.timeout(30_000);
    // Children must not outlive a test run that dies abruptly (mocha's --exit included).
    process.on('exit', killAll);
    dir = mkdtempSync(join(tmpdir(), 'arvados-dispatch-cloud-chaos-'));
    controllerLog = join(dir, 'controller.log');
    cloudLog = join(dir, 'lame-cloud.log');
    controllerStream = createWriteStream(controllerLog);
    const rootToken = randomBytes(32).toString('hex');
    controller = new TestController({
      rootToken,
      maxDispatchAttempts: MAX_DISPATCH_ATTEMPTS,
      logger: createLogger({ level: 'info', stream: controllerStream }),
    });
    await controller.start();

    const common = {
      rootToken,
      managementToken: randomBytes(32).toString('hex'),
      controllerURL: controller.url,
      // Fixed for the whole test: every dispatcher must be able to log in to the VMs the first one created.
      privateKey: generateSshKeyPair().private,
      capacityErrorTypes: [CAPACITY_ERROR_TYPE],
      quota: QUOTA,
      maxDispatchAttempts: MAX_DISPATCH_ATTEMPTS,
      seed,
    };
    const cloudConfig = join(dir, 'lame-cloud.yml');
    writeFileSync(cloudConfig, chaosConfigYAML({ ...common, cloudURL: 'http://127.0.0.1:0' }));
    cloud = new DaemonProcess('lame-cloud', ['lame-cloud', '--config', cloudConfig], cloudLog);
    let url: string | undefined;
    await waitUntil(
      'the lame cloud to log that it listens',
      () => {
        assert.ok(cloud!.running, `lame-cloud exited early: ${JSON.stringify(cloud!.exitStatus)}\n${logs()}`);
        url = logRecords(cloudLog).find((r) => r.msg === 'lame cloud listening')?.URL as string | undefined;
        return url !== undefined;
      },
      20_000,
      50,
    );
    admin = new LameCloudAdmin(url!);
    dispatcherConfig = join(dir, 'dispatcher.yml');
    writeFileSync(dispatcherConfig, chaosConfigYAML({ ...common, cloudURL: url! }));
  });

  after(async function () {
    this.timeout(30_000);
    await sampler?.stop();
    for (const d of dispatchers) await d.stop('SIGTERM', 5_000);
    await cloud?.stop('SIGTERM', 5_000);
    await controller?.stop();
    await new Promise<void>((resolve) => (controllerStream ? controllerStream.end(resolve) : resolve()));
    process.off('exit', killAll);
    if (passed && dir && !process.env.CHAOS_KEEP_LOGS) rmSync(dir, { recursive: true, force: true });
  });

  it('ends every container Complete or Cancelled with a reason, never runs one twice, stays in quota, leaves no VM', async () => {
    const t0 = Date.now();
    const elapsed = (): string => `${((Date.now() - t0) / 1000).toFixed(1)} s`;
    const events: string[] = [];
    const note = (what: string): void => {
      events.push(`${elapsed()}: ${what}`);
    };

    sampler = new VMSampler(admin, 200);
    sampler.start();
    startDispatcher();
    note('dispatcher-1 started');

    // Every state change of every container, to catch two Running periods however short.
    const runningEntries = new Map<string, number>();
    const unsubscribe = controller.onChange((c, prev) => {
      if (c.state === 'Running' && prev.state !== 'Running') runningEntries.set(c.uuid, (runningEntries.get(c.uuid) ?? 0) + 1);
    });

    // 150 containers in four bursts.
    const uuids: string[] = [];
    const submit = (from: number, to: number): void => {
      for (let i = from; i < to; i++) {
        const c = controller.addContainer({
          command: ['sleep', String((i % 3) + 1)],
          priority: (i % 20) + 1,
          runtime_constraints: { ram: ((i % 3) + 1) * GiB, vcpus: (i % 8) + 1 },
        });
        uuids.push(c.uuid);
      }
      note(`submitted containers ${from}..${to - 1}`);
    };
    const finalCount = (): number => uuids.filter((u) => FINAL.has(controller.get(u)!.state)).length;
    const progress = (): string => {
      const counts: Record<string, number> = {};
      for (const u of uuids) {
        const s = controller.get(u)!.state;
        counts[s] = (counts[s] ?? 0) + 1;
      }
      return JSON.stringify(counts);
    };

    // Containers whose crunch-run was alive when a dispatcher went away: the next one must adopt them.
    const acrossRestarts: Array<{ how: string; uuids: string[] }> = [];
    const noteAlive = async (how: string): Promise<void> => {
      const vms = await sampler!.sample();
      acrossRestarts.push({ how, uuids: vms.flatMap((vm) => vm.processes.filter((p) => p.alive).map((p) => p.uuid)) });
    };

    try {
      const bursts = [0, 40, 80, 115, CONTAINERS];
      let disruption = 0;
      let burstAt = 0;
      let submitted = 0;
      const deadline = t0 + WORKLOAD_DEADLINE_MS;
      while (finalCount() < CONTAINERS || submitted < bursts.length - 1) {
        assert.ok(Date.now() < deadline, `the workload did not finish in ${WORKLOAD_DEADLINE_MS} ms: ${progress()}\n${events.join('\n')}\n${logs()}`);
        // A dispatcher that exits on its own has crashed.
        assert.ok(current().running, `${current().name} exited on its own: ${JSON.stringify(current().exitStatus)}\n${logs(60)}`);
        if (submitted < bursts.length - 1 && Date.now() - t0 >= submitted * 2_000) {
          submit(bursts[submitted], bursts[submitted + 1]);
          submitted++;
        }
        const done = finalCount();
        if (disruption === 0 && done >= AT_503_BURST) {
          disruption++;
          // A burst: the next 30 requests, unless the burst is over by then. Counted alone, 30
          // failures could take a minute to drain while everything backs off, which is an outage.
          burstAt = Date.now();
          const burstEnd = burstAt + BURST_MS;
          controller.fail503(BURST_REQUESTS, () => Date.now() < burstEnd);
          note(`${done} final: the controller answers the next ${BURST_REQUESTS} requests in ${BURST_MS} ms with 503`);
        } else if (disruption === 1 && Date.now() - burstAt >= CLEAN_RESTART_AFTER_BURST_MS) {
          disruption++;
          const d = current();
          note(`${done} final: SIGTERM to ${d.name}`);
          await noteAlive('SIGTERM');
          const { exit, timedOut } = await d.stop('SIGTERM', 15_000);
          assert.ok(!timedOut, `${d.name} did not exit within 15 s of SIGTERM\n${logs(60)}`);
          assert.deepEqual(exit, { code: 0, signal: null }, `${d.name} exit after SIGTERM\n${logs(60)}`);
          note(`${d.name} exited 0; ${progress()}`);
          startDispatcher();
          note(`${current().name} started`);
        } else if (disruption === 2 && done >= AT_KILL_RESTART) {
          disruption++;
          const d = current();
          note(`${done} final: SIGKILL to ${d.name}`);
          await noteAlive('SIGKILL');
          await d.stop('SIGKILL', 5_000);
          startDispatcher();
          note(`${current().name} started; ${progress()}`);
        }
        await sleep(100);
      }
      note(`every container final: ${progress()}`);
      assert.equal(disruption, 3, `every disruption happened:\n${events.join('\n')}`);

      // The queue is empty: idle VMs go after TimeoutIdle (2 s), failed destroys are retried.
      let left: string[] = [];
      await waitUntil(
        'the lame cloud to list no VM',
        async () => {
          left = (await sampler!.sample()).map((vm) => `${vm.id}(${vm.instanceTypeName},${vm.state},booted=${vm.booted},broken=${vm.broken})`);
          return left.length === 0;
        },
        CLOUD_EMPTY_DEADLINE_MS,
        250,
        () => `still listed: ${left.join(', ')}\n${events.join('\n')}\n${logs()}`,
      );
      note('the cloud lists no VM');
      assert.ok(current().running, `${current().name} exited on its own: ${JSON.stringify(current().exitStatus)}\n${logs(60)}`);
    } finally {
      unsubscribe();
      await sampler.stop();
    }

    // ---- the verdict
    const containers = uuids.map((u) => controller.get(u)!);
    // A dispatcher's own cancel sets only the state, as the reference's: its reason is in that dispatcher's log.
    const cancelledBecause = new Map<string, string>();
    for (const d of dispatchers) {
      for (const r of d.records()) if (r.msg === 'cancelled container' && typeof r.Reason === 'string') cancelledBecause.set(String(r.ContainerUUID), r.Reason);
    }
    const reasonOf = (c: ControllerContainer): string => {
      const error = c.runtime_status?.error;
      return typeof error === 'string' && error !== '' ? error : (cancelledBecause.get(c.uuid) ?? '');
    };
    const reasons = new Map<string, number>();
    const problems: string[] = [];
    for (const c of containers) {
      if (c.state === 'Complete') continue;
      if (c.state !== 'Cancelled') {
        problems.push(`${c.uuid} ended ${c.state}`);
        continue;
      }
      const error = reasonOf(c);
      if (error === '') {
        problems.push(`${c.uuid} Cancelled without runtime_status.error or a reason in the dispatcher's log: ${JSON.stringify(describeContainer(controller, c))}`);
        continue;
      }
      const reason = error.replace(/lock_count=\d+/, 'lock_count=N');
      reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
    }
    // The dispatcher may only give up on a Running container whose crunch-run died on its own.
    const died = new Set(
      logRecords(cloudLog)
        .filter((r) => r.msg === 'lame: crunch-run crashed' || r.msg === 'lame: crunch-run exiting after an error')
        .map((r) => r.ContainerUUID as string),
    );
    for (const c of containers) {
      const error = reasonOf(c);
      if (c.state === 'Cancelled' && GIVE_UP_REASON.test(error) && !died.has(c.uuid)) {
        problems.push(`${c.uuid} cancelled ("${error}") though its crunch-run never crashed: ${JSON.stringify(describeContainer(controller, c))}`);
      }
    }
    for (const c of containers) {
      const runs = controller.history(c.uuid).filter((h) => h.state === 'Running').length;
      if (runs > 1 || (runningEntries.get(c.uuid) ?? 0) > 1) problems.push(`${c.uuid} went Running ${runs} times: ${JSON.stringify(describeContainer(controller, c))}`);
    }
    for (const d of sampler.doubles.slice(0, 10)) problems.push(`two live crunch-runs for ${d.uuid} at ${new Date(d.at).toISOString()}: ${d.where.join(', ')}`);
    if (sampler.maxLive > QUOTA) problems.push(`${sampler.maxLive} live instances at ${new Date(sampler.maxLiveAt).toISOString()}, over the quota of ${QUOTA}`);

    const completed = containers.filter((c) => c.state === 'Complete').length;
    const calls = await admin.callCounts();
    const served503 = controller.requestLog().filter((r) => r.status === 503).length;
    const report = [
      `chaos run (Seed ${seed}): ${elapsed()}; ${completed} Complete, ${containers.length - completed} Cancelled`,
      ...[...reasons].sort((a, b) => b[1] - a[1]).map(([r, n]) => `  ${n} x ${r}`),
      `VMs created: ${sampler.vmsSeen.size} (never booting: ${sampler.neverBooting.size}, broken: ${sampler.broken.size}); most live at once: ${sampler.maxLive} (quota ${QUOTA}); most crunch-runs on one VM: ${sampler.maxPerVM}`,
      `cloud calls: ${JSON.stringify(calls)}; samples: ${sampler.samples} (${sampler.errors} failed${sampler.lastError ? `, last: ${sampler.lastError}` : ''})`,
      ...acrossRestarts.map(({ how, uuids: alive }) => {
        const ended = alive.map((u) => controller.get(u)!.state);
        return `crunch-runs alive at the ${how} restart: ${alive.length}, then ${ended.filter((e) => e === 'Complete').length} Complete, ${ended.filter((e) => e === 'Cancelled').length} Cancelled`;
      }),
      `controller: ${served503} requests answered 503; dispatchers: ${dispatchers.map((d) => d.name).join(', ')}`,
      `logs in ${dir} (removed after a pass unless CHAOS_KEEP_LOGS is set)`,
      ...events,
    ].join('\n');
    console.log(report.replace(/^/gm, '      '));

    assert.deepEqual(problems, [], `${report}\n${logs()}`);
    assert.ok(sampler.samples > 100 && sampler.errors < sampler.samples / 10, `the sampler watched the cloud throughout\n${report}`);
    assert.ok(completed >= CONTAINERS / 2, `most containers completed\n${report}\n${logs()}`);
    assert.ok(sampler.neverBooting.size + sampler.broken.size > 0 && served503 > 0, `the faults were exercised\n${report}`);
    passed = true;
  });
});

/** What a failure message needs to know of a container: its state, reason, lock count and history. */
function describeContainer(controller: TestController, c: ControllerContainer): unknown {
  return {
    state: c.state,
    error: c.runtime_status?.error,
    lock_count: c.lock_count,
    history: controller.history(c.uuid).map((h) => `${h.state}${h.by ? ` by ${h.by}` : ''}${h.reason ? ` (${h.reason})` : ''}`),
  };
}
