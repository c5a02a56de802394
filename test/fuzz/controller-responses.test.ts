/**
 * Fuzz: the controller answers the dispatcher with garbage.
 *
 * Generates (fast-check) a handful of containers in the test controller
 * (queued, on hold, locked or running by us, locked by another dispatcher,
 * finished), users changing priorities and cancelling between passes, and a plan that spoils the controller's answers one request at
 * a time (`garbling-transport.ts`): malformed JSON, error statuses, JSON of
 * the wrong shape, a field of a list item, of a single-container read or of
 * a lock/unlock/update answer given a wrong type, an unknown state, a
 * negative, huge or fractional priority or a bad uuid, or dropped; extra
 * fields, garbage items, duplicated items, repeated pages, items_available
 * lies, bodies padded to hundreds of KiB, and list reads that never end;
 * mixed with answers left alone. In about half the cases every GET with
 * parameters goes as a POST with a form body and X-Http-Method-Override, the
 * form the client uses for parameters of 1000 bytes or more (the `uuid in`
 * checks of 100 uuids). The real container queue and scheduler
 * (with an in-memory pool) run several poll + schedule passes per case.
 *
 * Properties, per case:
 * - nothing throws out of a scheduling pass, a failed poll rejects with a
 *   ControllerError or the queue's own error (never a TypeError and the
 *   like), and no promise rejection goes unhandled;
 * - every field spoiled in a record that reached the queue is named by a
 *   warning, and those warnings are rate-limited (one per field and source);
 * - no lock, unlock, cancel or other update is sent, and no crunch-run is
 *   started or stopped, unless the last unspoiled record of that container
 *   the queue may have applied justified it;
 * - every entry of the queue shows what some unspoiled record showed, and
 *   after a poll that succeeded it agrees with the last unspoiled record of
 *   it that the poll read (valid items beside bad ones are used);
 * - each poll makes a bounded number of requests, however the lists go on;
 * - once the controller answers sensibly again, the queue agrees with it
 *   about every container it may run.
 *
 * Full count: `npm run fuzz` (FUZZ_RUNS=10000), or
 * `FUZZ_RUNS=10000 npx mocha --timeout 0 test/fuzz/controller-responses.test.ts`;
 * FUZZ_SEED=<seed> repeats a failing run.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ControllerClient, isControllerError } from '../../src/arvados/client.js';
import type { ContainerState } from '../../src/arvados/types.js';
import { ManualClock } from '../../src/clock/index.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { ContainerQueueImpl } from '../../src/queue/queue.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { TestController } from '../../src/testcontroller/index.js';
import { FakePool, testCluster } from '../scheduler/fakes.js';
import { garblePlan, GarblingTransport, type GarblePlan } from './garbling-transport.js';
import { fuzzParams, fuzzTimeout } from './runs.js';

const ROOT_TOKEN = 'fuzz-root-token-0123456789';
const OTHER_TOKEN_UUID = 'zzzzz-gj3su-0000000000other';

interface Seed {
  state: ContainerState;
  priority: number;
  /** For Locked/Running: held by another dispatcher. */
  other: boolean;
}

// Weighted towards what garbage could push into an action: ours with priority 0 (a bad priority could start it), queued on hold.
const seedArb: fc.Arbitrary<Seed> = fc.record({
  state: fc.constantFrom<ContainerState>('Queued', 'Queued', 'Queued', 'Locked', 'Locked', 'Running', 'Running', 'Complete', 'Cancelled'),
  // 1-5 as before Arvados 2.7; then a current controller's (request x 2^50 - created_at ms), far above 2^53.
  priority: fc.constantFrom(0, 0, 0, 1, 2, 5, 500 * 2 ** 50 - 1_764_000_000_000, 1000 * 2 ** 50 - 1_764_000_000_123),
  other: fc.constantFrom(false, false, false, true),
});

/** Queue options small enough that a few containers take several pages. */
const QUEUE_OPTS = { pageSize: 2, batchSize: 2, sweepPages: 1, headPages: 3, checksPerPoll: 4, maxListPages: 6 };
const PASSES = 4;

/** Lets the clock and the event loop run until `p` settles (the client's retries sleep on the clock). */
async function drive(clock: ManualClock, p: Promise<unknown>): Promise<{ error?: unknown }> {
  let out: { error?: unknown } | undefined;
  void p.then(
    () => (out = {}),
    (error: unknown) => (out = { error }),
  );
  for (let i = 0; i < 200 && !out; i++) await clock.advance(100);
  assert.ok(out, 'a poll never finished');
  return out;
}

/** What a user does between passes: change a container's priority, or cancel it. */
interface UserAction {
  pass: number;
  index: number;
  priority: number | 'cancel';
}

const userActionArb: fc.Arbitrary<UserAction> = fc.record({
  pass: fc.nat(PASSES - 1),
  index: fc.nat(9),
  priority: fc.constantFrom<number | 'cancel'>(0, 0, 3, 'cancel'),
});

/**
 * @param formBodies every GET with parameters goes as a POST with a form body
 * (X-Http-Method-Override), as the client sends those of 1000 bytes or more:
 * the small pages and batches here never reach that.
 */
async function runCase(seeds: Seed[], plan: GarblePlan, users: UserAction[], formBodies: boolean): Promise<void> {
  const clock = new ManualClock();
  const t0 = clock.now();
  const ctl = new TestController({ rootToken: ROOT_TOKEN, clock });
  const uuids: string[] = [];
  for (const s of seeds) {
    const held = s.state === 'Locked' || s.state === 'Running';
    uuids.push(ctl.addContainer({ state: s.state, priority: s.priority, ...(held && s.other ? { locked_by_uuid: OTHER_TOKEN_UUID } : {}) }).uuid);
  }
  const transport = new GarblingTransport(ctl.inProcessTransport(), plan, ctl.rootTokenUuid);
  const lines = new LineCollector();
  const logger = createLogger({ stream: lines, level: 'warn', clock });
  const client = new ControllerClient({
    baseURL: 'http://controller.invalid',
    token: ROOT_TOKEN,
    clock,
    logger,
    transport,
    retry: { attempts: 2, firstBackoffMs: 100, maxBackoffMs: 100, requestTimeoutMs: 10_000 },
    ...(formBodies ? { maxQueryBytes: 1 } : {}),
  });
  const cluster = testCluster();
  const queue = new ContainerQueueImpl({ client, cluster, clock, logger, ...QUEUE_OPTS });
  const pool = new FakePool(clock);
  const starts: Array<{ uuid: string; justified: boolean }> = [];
  const realStart = pool.startContainer.bind(pool);
  pool.startContainer = (id, ctr) => {
    starts.push({ uuid: ctr.uuid, justified: transport.justifies(ctr.uuid).has('start') });
    return realStart(id, ctr);
  };
  const kills: Array<{ uuid: string; justified: boolean }> = [];
  const realKill = pool.killContainer.bind(pool);
  pool.killContainer = (uuid, reason) => {
    if (pool.runningMap.has(uuid)) kills.push({ uuid, justified: transport.justifies(uuid).has('kill') });
    return realKill(uuid, reason);
  };
  const sch = new Scheduler({ queue, pool, client, cluster, clock, logger });
  // Requests one poll may make: the token, ours (bounded), the head, the sweep, checks and details reads, each maybe retried once.
  const perPollBound = 2 * (1 + QUEUE_OPTS.maxListPages + QUEUE_OPTS.headPages + QUEUE_OPTS.sweepPages + 3 * seeds.length + QUEUE_OPTS.checksPerPoll);

  const poll = async (): Promise<void> => {
    const before = transport.requests;
    const actionsBefore = transport.actions.length;
    transport.beginPoll();
    const { error } = await drive(clock, queue.update());
    transport.endPoll(error === undefined);
    assert.ok(transport.requests - before <= perPollBound, `one poll made ${transport.requests - before} requests`);
    // Nothing in the queue came from a spoiled record: every entry shows what some valid record showed.
    for (const [uuid, ent] of queue.entries().entries) {
      const c = ent.container;
      assert.ok(transport.hasShown(uuid, c.state, c.priority, c.locked_by_uuid), `${uuid}: entry ${JSON.stringify([c.state, c.priority, c.locked_by_uuid])} matches no valid record`);
    }
    if (error !== undefined) {
      // A failed poll is logged and retried by the loop; what it fails with must be a controller error or the queue's own.
      assert.ok(error instanceof Error && (isControllerError(error) || error.constructor === Error), `poll failed with ${String(error)}`);
      return;
    }
    // What this poll read unspoiled is what the queue now holds, for containers nobody changed meanwhile.
    const changed = new Set(transport.actions.slice(actionsBefore).map((a) => a.uuid));
    for (const [uuid, { rec, at }] of transport.latest) {
      const ent = queue.get(uuid);
      if (at < before || changed.has(uuid) || !ent) continue;
      assert.equal(ent.state, rec.state, `${uuid}: state`);
      if (rec.priority !== undefined) assert.equal(ent.priority, rec.priority, `${uuid}: priority`);
      assert.equal(ent.locked_by_uuid ?? null, rec.locked_by_uuid ?? null, `${uuid}: locked_by_uuid`);
      if (rec.lock_count !== undefined) assert.equal(ent.lock_count, rec.lock_count, `${uuid}: lock_count`);
    }
  };

  try {
    await poll();
    await drive(clock, sch.fixStaleLocks());
    for (let i = 0; i < PASSES; i++) {
      for (const u of users.filter((a) => a.pass === i)) {
        const uuid = uuids[u.index % uuids.length];
        if (u.priority === 'cancel') ctl.cancel(uuid, 'cancelled by the user');
        else ctl.setPriority(uuid, u.priority);
      }
      await poll();
      sch.runQueue();
      sch.sync();
      await clock.advance(1000);
      pool.bootAll();
      await poll();
    }
    await clock.advance(1000);

    // It keeps going: once the controller answers sensibly again, the queue agrees with it.
    transport.heal();
    for (let i = 0; i < 3; i++) await poll();
    await clock.advance(1000);
    for (const c of ctl.all()) {
      const ours = (c.state === 'Locked' || c.state === 'Running') && c.locked_by_uuid === ctl.rootTokenUuid;
      if (!(ours || (c.state === 'Queued' && c.priority > 0))) continue;
      const got = queue.get(c.uuid);
      assert.deepEqual([got?.state, got?.priority], [c.state, c.priority], `${c.uuid}: the queue has not caught up with the controller`);
    }

    assert.equal(transport.formRequests > 0, formBodies, 'GETs went as form bodies exactly when asked to');
    for (const a of transport.actions) assert.ok(a.justified, `${a.what} ${a.uuid} sent with no valid record justifying it`);
    for (const s of starts) assert.ok(s.justified, `crunch-run started for ${s.uuid} with no valid record saying it is ours`);
    for (const k of kills) assert.ok(k.justified, `crunch-run of ${k.uuid} stopped while the last valid record says it is ours and wanted`);

    const warnings = lines.records().filter((r) => r.level === 'warning' && typeof r.Field === 'string');
    const named = new Set(warnings.map((r) => r.Field as string));
    for (const f of transport.spoiledFields) assert.ok(named.has(f), `no warning names ${f}; warned about: ${[...named].join(', ')}`);
    if (transport.inserted > 0) assert.ok(warnings.length > 0, 'garbage items went by without a warning');
    const perKey = new Map<string, number>();
    for (const r of warnings) {
      const key = `${String(r.Source)} ${String(r.Field)}`;
      perKey.set(key, (perKey.get(key) ?? 0) + 1);
    }
    const allowed = 1 + Math.floor((clock.now() - t0) / 60_000);
    for (const [k, n] of perKey) assert.ok(n <= allowed, `${n} warnings for ${k}: not rate-limited`);
  } finally {
    await queue.stop();
    await sch.stop();
    client.close();
  }
}

describe('fuzz: garbage from the controller', function () {
  this.timeout(fuzzTimeout(300, 60_000));
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  before(() => process.on('unhandledRejection', onUnhandled));
  after(() => process.off('unhandledRejection', onUnhandled));

  it('never acts on garbage, skips what it cannot use, names the field, and keeps going', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(seedArb, { minLength: 1, maxLength: 7 }), garblePlan, fc.array(userActionArb, { maxLength: 6 }), fc.boolean(), async (seeds, plan, users, formBodies) => {
        await runCase(seeds, plan, users, formBodies);
        // Rejections surface a turn later: give them one, then check.
        await new Promise((resolve) => setImmediate(resolve));
        assert.deepEqual(unhandled.splice(0).map(String), []);
      }),
      fuzzParams(300),
    );
  });
});
