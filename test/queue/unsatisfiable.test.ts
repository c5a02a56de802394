/**
 * Containers no configured instance type can run: locked, given the
 * reference's runtime_status.error, cancelled; logged once; tried again,
 * with a bounded back-off, for as long as they stay queued.
 */
import assert from 'node:assert/strict';
import type { ContainerPatch } from '../../src/arvados/client.js';
import type { Container } from '../../src/arvados/types.js';
import { ManualClock, settle } from '../../src/clock/index.js';
import { UnsatisfiableCanceller } from '../../src/queue/unsatisfiable.js';
import { captureLogger, waitFor } from '../arvados/helpers.js';
import { harness, type Harness } from './helpers.js';

const NOT_SATISFIABLE = 'constraints not satisfiable by any configured instance type';

describe('container queue: unsatisfiable containers', () => {
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  const cancelled = (uuid: string) => waitFor(`${uuid} to be cancelled`, () => h.ctl.get(uuid)?.state === 'Cancelled');
  const warnings = () => h.lines.records().filter((r) => r.msg === 'cancel container with no suitable instance type');

  it('locks a Queued one, sets runtime_status.error, cancels it, and never lists it', async () => {
    h = await harness();
    const big = h.ctl.addContainer({ runtime_constraints: { vcpus: 64, ram: 1 << 30 } });
    const ok = h.ctl.addContainer();
    await h.queue.update();
    assert.deepEqual([...h.queue.entries().entries.keys()], [ok.uuid]);
    await cancelled(big.uuid);
    assert.deepEqual(h.ctl.get(big.uuid)?.runtime_status, { error: NOT_SATISFIABLE });
    assert.deepEqual(
      h.ctl.history(big.uuid).map((e) => [e.state, e.by]),
      [
        ['Queued', undefined],
        ['Locked', h.ctl.rootTokenUuid],
        ['Cancelled', h.ctl.rootTokenUuid],
      ],
    );
    assert.equal(warnings().length, 1);
    assert.equal(warnings()[0].ContainerUUID, big.uuid);
    assert.equal(warnings()[0].error, NOT_SATISFIABLE);
    await h.queue.update();
    await h.queue.update();
    assert.equal(h.queue.get(big.uuid), undefined);
    assert.equal(warnings().length, 1, 'logged once');
  });

  it('skips the lock for one already Locked by us', async () => {
    h = await harness();
    const big = h.ctl.addContainer({ state: 'Locked', runtime_constraints: { vcpus: 1, ram: 2 ** 40 } });
    await h.queue.update();
    await cancelled(big.uuid);
    assert.deepEqual(h.ctl.get(big.uuid)?.runtime_status, { error: NOT_SATISFIABLE });
    assert.equal(h.ctl.stats['POST /arvados/v1/containers/{uuid}/lock'], undefined);
  });

  it('says when the site lists no instance types at all', async () => {
    h = await harness({ types: '' });
    const c = h.ctl.addContainer();
    await h.queue.update();
    await cancelled(c.uuid);
    assert.equal(h.ctl.get(c.uuid)?.runtime_status.error, 'site configuration does not list any instance types');
  });

  it('keeps a Running one, with no instance types, for the scheduler to watch', async () => {
    h = await harness();
    const c = h.ctl.addContainer({ state: 'Running', runtime_constraints: { vcpus: 64, ram: 1 << 30 } });
    await h.queue.update();
    const entry = h.queue.entries().entries.get(c.uuid);
    assert.deepEqual(entry?.instanceTypes, []);
    // What it uses is still charged to its VM, so nothing is started beside
    // it that would not fit (a config change since it started, e.g. a larger
    // ReserveExtraRAM, can leave a running container with no type).
    assert.equal(entry?.instanceResources.vcpus, 64);
    assert.ok(entry.instanceResources.ram > 1 << 30, `RAM charged: ${entry.instanceResources.ram}`);
    assert.equal(h.ctl.get(c.uuid)?.state, 'Running');
  });

  it('keeps cancelling an unsatisfiable container with back-off', async () => {
    h = await harness({ retry: { attempts: 1 } });
    const big = h.ctl.addContainer({ runtime_constraints: { vcpus: 64, ram: 1 << 30 } });
    let refuse = true;
    const attempts: number[] = [];
    h.ctl.setHook((req) => {
      if (!req.path.endsWith('/lock')) return undefined;
      attempts.push(h.clock.now() / 1000);
      return refuse ? { status: 422, body: { errors: ['refused for the test'] } } : undefined;
    });
    const t0 = h.clock.now();
    const settled = () => waitFor('the attempt to end', () => h.queue.operationsInFlight() === 0);
    // A poll every 10 s for 20 minutes.
    for (let t = 0; t <= 20 * 60; t += 10) {
      await h.queue.update();
      await settled();
      await h.clock.advance(10_000);
    }
    const rel = attempts.map((a) => a - t0 / 1000);
    // Doubling from 10 s, then every 5 minutes: never giving up.
    assert.deepEqual(rel.slice(0, 6), [0, 10, 30, 70, 150, 310]);
    for (let i = 6; i < rel.length; i++) assert.equal(rel[i] - rel[i - 1], 300, `gap before attempt ${i + 1}`);
    assert.equal(rel.length, 8);
    const lockFailures = h.lines.records().filter((r) => r.msg === 'lock failed');
    assert.ok(lockFailures.length >= 4 && lockFailures.length < rel.length, `${lockFailures.length} lines for ${rel.length} failures: rate-limited`);
    assert.equal(lockFailures[0].level, 'warning');
    assert.equal(warnings().length, 1, 'the decision is logged once');
    assert.equal(h.ctl.get(big.uuid)?.state, 'Queued');

    refuse = false;
    for (let i = 0; i < 31 && h.ctl.get(big.uuid)?.state !== 'Cancelled'; i++) {
      await h.clock.advance(10_000);
      await h.queue.update();
      await settled();
    }
    assert.equal(h.ctl.get(big.uuid)?.state, 'Cancelled');
    assert.deepEqual(h.ctl.get(big.uuid)?.runtime_status, { error: NOT_SATISFIABLE });
  });

  it('stops trying to cancel once a poll shows the container at priority 0 between attempts, and no longer tracks it', async () => {
    h = await harness({ retry: { attempts: 1 } });
    const big = h.ctl.addContainer({ runtime_constraints: { vcpus: 64, ram: 1 << 30 } });
    let locks = 0;
    h.ctl.setHook((req) => {
      if (!req.path.endsWith('/lock')) return undefined;
      locks++;
      return { status: 422, body: { errors: ['refused for the test'] } };
    });
    const settled = () => waitFor('the attempt to end', () => h.queue.operationsInFlight() === 0);
    await h.queue.update();
    await settled();
    assert.equal(locks, 1, 'tried at once');
    assert.notEqual(h.queue.known(big.uuid), undefined, 'tracked while the effort lasts');

    // The user no longer wants it: the next poll (before the retry is due) says so.
    h.ctl.setPriority(big.uuid, 0);
    await h.queue.update();
    assert.equal(h.queue.known(big.uuid), undefined, 'the effort ended: not tracked');
    for (let i = 0; i < 10; i++) {
      await h.clock.advance(60_000);
      await h.queue.update();
      await settled();
    }
    assert.equal(locks, 1, 'no lock tried after the back-off');
    assert.equal(h.ctl.get(big.uuid)?.state, 'Queued');
  });

  it('does not warn when it loses the race to a user who cancelled first', async () => {
    h = await harness({ retry: { attempts: 1 } });
    const big = h.ctl.addContainer({ state: 'Locked', runtime_constraints: { vcpus: 64, ram: 1 << 30 } });
    h.ctl.setHook((req) => {
      if (req.method !== 'PUT') return undefined;
      h.ctl.cancel(big.uuid, 'user');
      return { status: 422, body: { errors: ['runtime_status cannot be modified in state Cancelled'] } };
    });
    await h.queue.update();
    await waitFor('the state check', () => (h.ctl.stats['GET /arvados/v1/containers/{uuid}'] ?? 0) === 1);
    await h.queue.update();
    assert.equal(h.lines.records().filter((r) => r.msg === 'error while trying to cancel unsatisfiable container').length, 0);
  });
});

/**
 * The canceller on its own, over a scripted client: what it does when an
 * attempt fails after our lock took, and when a poll says "not ours" while
 * an attempt is in flight.
 */
describe('container queue: unsatisfiable canceller, failed attempts', () => {
  const UUID = 'zzzzz-dz642-unsatisfiable01';
  const OURS = 'zzzzz-gj3su-dispatcher00001';
  const FIRST_RETRY = 10_000;

  type Step = 'ok' | 'fail' | Promise<void>;

  function setup(o: { state: 'Queued' | 'Locked'; cancels: Step[]; reads: ('Locked' | 'Cancelled' | 'error')[] }) {
    const clock = new ManualClock();
    const { logger, lines } = captureLogger();
    const calls: string[] = [];
    let ctr = { uuid: UUID, state: o.state, priority: 1, locked_by_uuid: o.state === 'Locked' ? OURS : null } as unknown as Container;
    const patch = (): ContainerPatch => ({ uuid: UUID, state: ctr.state, locked_by_uuid: ctr.locked_by_uuid });
    const client = {
      lockContainer: (uuid: string): Promise<ContainerPatch> => {
        calls.push(`lock ${uuid}`);
        ctr = { ...ctr, state: 'Locked', locked_by_uuid: OURS };
        return Promise.resolve(patch());
      },
      updateContainer: async (uuid: string, attrs: Partial<Container>): Promise<ContainerPatch> => {
        if (!attrs.state) {
          calls.push('runtime_status');
          return patch();
        }
        calls.push(`cancel ${uuid}`);
        const step = o.cancels.shift() ?? 'ok';
        if (step !== 'ok' && step !== 'fail') await step;
        if (step !== 'ok') throw new Error('HTTP 500: cancel failed for the test');
        ctr = { ...ctr, state: 'Cancelled' };
        return patch();
      },
      getContainer: (uuid: string): Promise<Container> => {
        calls.push(`get ${uuid}`);
        const read = o.reads.shift() ?? 'Locked';
        if (read === 'error') return Promise.reject(new Error('HTTP 503: read failed for the test'));
        return Promise.resolve({ ...ctr, state: read } as Container);
      },
    };
    const canceller = new UnsatisfiableCanceller({
      client,
      logger,
      clock,
      firstRetryMs: FIRST_RETRY,
      runExclusive: (_uuid, _name, fn) => fn(),
      applyReply: () => undefined,
    });
    return { clock, lines, calls, canceller, container: () => ctr };
  }

  for (const read of ['Locked', 'error'] as const) {
    it(`retries a cancel that failed after our lock took (the follow-up read ${read === 'Locked' ? 'says Locked' : 'fails'})`, async () => {
      // Counted as done, the container would stay Locked by this dispatcher,
      // never cancelled, with a workflow waiting on it.
      const t = setup({ state: 'Queued', cancels: ['fail'], reads: [read] });
      t.canceller.handle(t.container(), 'constraints not satisfiable by any configured instance type');
      await settle(8);
      assert.deepEqual(t.calls, [`lock ${UUID}`, 'runtime_status', `cancel ${UUID}`, `get ${UUID}`]);
      assert.equal(t.container().state, 'Locked');
      assert.deepEqual(t.canceller.pending(), [UUID], 'a failed cancel is not done');
      assert.equal(t.lines.records().filter((r) => r.msg === 'error while trying to cancel unsatisfiable container').length, 1);

      t.calls.length = 0;
      await t.clock.advance(FIRST_RETRY - 1);
      t.canceller.retryDue();
      await settle(8);
      assert.deepEqual(t.calls, [], 'not before the back-off');
      await t.clock.advance(1);
      t.canceller.retryDue();
      await settle(8);
      assert.deepEqual(t.calls, ['runtime_status', `cancel ${UUID}`], 'tried again, with no second lock');
      assert.equal(t.container().state, 'Cancelled');
      assert.deepEqual(t.canceller.pending(), []);
    });
  }

  it('keeps the effort when a poll says "not ours" while an attempt is in flight, so a failed attempt is retried', async () => {
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const t = setup({ state: 'Queued', cancels: [held], reads: ['Locked'] });
    t.canceller.handle(t.container(), 'constraints not satisfiable by any configured instance type');
    await settle(8);
    assert.deepEqual(t.calls, [`lock ${UUID}`, 'runtime_status', `cancel ${UUID}`], 'the cancel is in flight');

    // A poll's record says the container is not ours to cancel (here: priority 0) while we hold it locked.
    t.canceller.refresh(UUID, { priority: 0 }, false);
    assert.deepEqual(t.canceller.pending(), [UUID], 'not dropped while an attempt is in flight');
    assert.equal(t.canceller.get(UUID)?.priority, 0, 'the newer record is kept');

    // The attempt fails: the container stays Locked by us.
    release();
    await settle(8);
    assert.equal(t.container().state, 'Locked');
    assert.deepEqual(t.canceller.pending(), [UUID], 'still pending after the failure');

    // The next poll shows it ours again (Locked by us, priority up): tried again after the back-off.
    t.canceller.refresh(UUID, { priority: 1, state: 'Locked', locked_by_uuid: OURS }, true);
    t.calls.length = 0;
    await t.clock.advance(FIRST_RETRY);
    t.canceller.retryDue();
    await settle(8);
    assert.deepEqual(t.calls, ['runtime_status', `cancel ${UUID}`]);
    assert.equal(t.container().state, 'Cancelled');
    assert.deepEqual(t.canceller.pending(), []);
  });

  it("keeps the lock's lock_count for the container it is cancelling, and hands the queue the answer as a lock's", async () => {
    const { logger } = captureLogger();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const replies: Array<[string, boolean | undefined]> = [];
    const canceller = new UnsatisfiableCanceller({
      client: {
        lockContainer: () => Promise.resolve({ uuid: UUID, state: 'Locked', locked_by_uuid: OURS, lock_count: 4 }),
        updateContainer: async (_uuid, attrs) => {
          if (attrs.state) await held;
          return { uuid: UUID, state: attrs.state ?? 'Locked' };
        },
        getContainer: () => Promise.reject(new Error('not read in this test')),
      },
      logger,
      clock: new ManualClock(),
      runExclusive: (_uuid, _name, fn) => fn(),
      applyReply: (_uuid, reply, locked) => void replies.push([reply.state, locked]),
    });
    canceller.handle({ uuid: UUID, state: 'Queued', priority: 1, locked_by_uuid: null, lock_count: 3 } as Container, NOT_SATISFIABLE);
    await settle(8);
    assert.equal(canceller.get(UUID)?.lock_count, 4, 'while the cancel is in flight');
    assert.deepEqual(replies, [['Locked', true]]);
    release();
    await settle(8);
    assert.deepEqual(canceller.pending(), []);
    assert.deepEqual(replies, [['Locked', true], ['Cancelled', undefined]]);
  });
});
