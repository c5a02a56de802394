/**
 * Fuzzed cloud answers under the worker pool: the pool over the ec2 driver,
 * with the real SDK, talking to the fake EC2 endpoint through the garbage
 * proxy (`driver-targets.ts`, `garbage-proxy.ts`) that answers RunInstances,
 * DescribeKeyPairs or DescribeInstances with garbage. The driver calls on
 * their own are `cloud-drivers.test.ts`.
 *
 * `npm test` runs a few cases; the full count:
 *   FUZZ_RUNS=10000 npx mocha --timeout 0 test/fuzz/cloud-drivers-pool.test.ts   (or `npm run fuzz`)
 * (a fiftieth of that: each case is a pool's whole create, fail, heal
 * cycle), and FUZZ_SEED=<seed> repeats a failing run.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ManualClock, settle, systemClock } from '../../src/clock/index.js';
import { wrapInstanceSet } from '../../src/cloud/wrap.js';
import { silentLogger } from '../../src/log.js';
import { SshConnectError } from '../../src/ssh/errors.js';
import { WorkerPoolImpl } from '../../src/worker/pool.js';
import { waitFor } from '../cloud/conformance.js';
import { DISPATCH_KEY, ec2Cluster, M5 } from '../drivers/ec2/helpers.js';
import { answerArb, CALL_DEADLINE_MS, ec2Target, listHealed, QUICK_RUNS, REQUEST_TIMEOUT_MS, SHARE, type Target } from './driver-targets.js';
import { fuzzParams, fuzzTimeout } from './runs.js';

/**
 * The pool over the ec2 driver with garbage answers: a create that fails
 * leaves creates held (back-off, rate limit, quota or capacity: whichever
 * the error says) instead of calling again at once; a listing that fails
 * leaves the workers as they were and is not repeated before SyncInterval;
 * once the endpoint heals and the hold has passed, creates and listings work.
 */
describe('the worker pool over fuzzed ec2 answers', function () {
  this.timeout(fuzzTimeout(QUICK_RUNS.pool, 120_000, SHARE.pool));
  let t: Target;
  const standing = new Set<string>();

  before(async () => {
    t = await ec2Target();
    for (let i = 0; i < 2; i++) standing.add((await t.create()).id);
  });
  after(async () => t?.stop());

  function newPool(clock: ManualClock): WorkerPoolImpl {
    const cluster = ec2Cluster();
    const vms = cluster.Containers.CloudVMs;
    // Nothing here is about probes: the VMs stay booting for the whole check.
    vms.TimeoutBooting = vms.TimeoutProbe = vms.TimeoutIdle = 24 * 3600_000;
    vms.MaxConcurrentInstanceCreateOps = 1;
    const logger = silentLogger();
    return new WorkerPoolImpl({
      cluster,
      instanceSet: wrapInstanceSet(t.driver, { clock, logger, maxCloudOpsPerSecond: 0, resourceTags: {} }),
      newExecutor: (inst) => ({
        execute: () => Promise.reject(new SshConnectError(`${inst.address}:22`, 'refused', 'not reachable in this test')),
        setTarget: () => undefined,
        close: () => undefined,
      }),
      clock,
      logger,
      instanceSetId: t.setId,
      publicKey: DISPATCH_KEY.public,
    });
  }

  it('backs off from a failing create or listing, keeps its workers, and recovers when the endpoint heals', async () => {
    const kinds = ['RunInstances', 'DescribeKeyPairs', 'DescribeInstances'];
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...kinds), answerArb(t.bodies), async (kind, answer) => {
        // The pool's clock starts at the wall clock's time, which the driver's rate-limit retry times use.
        const clock = new ManualClock(systemClock.now());
        const pool = newPool(clock);
        const what = `${kind} answered ${JSON.stringify(answer).slice(0, 300)}`;
        try {
          pool.start();
          await waitFor('the first listing', () => pool.loaded(), 30_000);
          const known = () => pool.instances().map((v) => v.instance).sort();
          assert.deepEqual(known(), [...standing].sort());
          t.proxy.arm(kind, answer);
          if (kind === 'DescribeInstances') {
            const lists = t.proxy.count(kind);
            await clock.advance(ec2Cluster().Containers.CloudVMs.SyncInterval);
            await waitFor('the listing to be tried', () => t.proxy.count(kind) > lists);
            await settle(8);
            // One listing (a few pages at most, each maybe timing out), then nothing until the next SyncInterval.
            await delay(REQUEST_TIMEOUT_MS * 4);
            const tried = t.proxy.count(kind);
            assert.ok(tried - lists <= 4, `${what}: ${tried - lists} DescribeInstances for one listing`);
            await delay(REQUEST_TIMEOUT_MS * 2);
            assert.equal(t.proxy.count(kind), tried, `${what}: listed again at once`);
            assert.deepEqual(known(), [...standing].sort(), `${what}: workers changed on a failed listing`);
          } else {
            const runs = t.proxy.count('RunInstances');
            assert.ok(pool.create(M5), `${what}: the first create was declined`);
            await waitFor('the create to end', () => pool.createBlocker(M5) !== 'reached MaxConcurrentInstanceCreateOps', CALL_DEADLINE_MS);
            await settle(8);
            const created = known().filter((id) => !standing.has(id));
            if (created.length === 0) {
              // Failed: the next create is held, and the cloud is not asked again.
              const calls = t.proxy.count('RunInstances');
              assert.equal(pool.create(M5), undefined, `${what}: created again at once after a failure`);
              assert.notEqual(pool.createBlocker(M5), undefined);
              await settle(8);
              assert.equal(t.proxy.count('RunInstances'), calls, `${what}: called RunInstances again at once`);
              assert.ok(calls - runs <= 3, `${what}: ${calls - runs} RunInstances for one create`);
            }
          }
          // Healed, and past any hold: a create and a listing work.
          t.proxy.heal();
          // The pool's clock jumps past its holds; the driver, built once for
          // every case, runs on the wall clock, so what it remembers of a
          // subnet out of capacity (60 s) is forgotten as the jump would have.
          t.forget?.();
          await clock.advance(120_000);
          await settle(8);
          const before = new Set(known());
          assert.ok(pool.create(M5), `${what}: declined after healing: ${pool.createBlocker(M5) ?? ''}`);
          await waitFor('the create after healing', () => known().some((id) => !before.has(id) && !id.startsWith('pending-')), CALL_DEADLINE_MS);
          await pool.syncNow();
          assert.deepEqual(known(), [...t.truth()].sort(), `${what}: the pool's instances differ from the cloud's after healing`);
        } finally {
          t.proxy.heal();
          pool.stop();
          for (const inst of await listHealed(t)) if (!standing.has(inst.id)) await inst.destroy();
        }
      }),
      // Each case is a whole create-fail-heal cycle of a pool.
      fuzzParams(QUICK_RUNS.pool, SHARE.pool),
    );
  });
});

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
