/**
 * Stretching TimeoutIdle to the end of a paid period (`src/worker/idle-stretch.ts`):
 * the rule on object literals, then the pool keeping (or not) a real idle worker.
 */
import assert from 'node:assert/strict';
import { EC2_LINUX_BILLING, type BillingRule } from '../../src/cost/billing.js';
import { instanceViewJSON } from '../../src/http/format.js';
import { IdleStretcher, keptUntil, type IdleStretchPolicy, type StretchCandidate } from '../../src/worker/idle-stretch.js';
import { Harness } from './helpers.js';

const S = 1000;
const M = 60_000;
const H = 3_600_000;
const HOURLY: BillingRule = { incrementMs: H, minimumMs: H };

describe('idle stretch: the rule', () => {
  it('keeps to the end of the paid hour minus the margin, when that is within MaxStretch of TimeoutIdle', () => {
    // Created at 0, idle since 9 min, TimeoutIdle 1 min: reached at 10 min.
    assert.equal(keptUntil(HOURLY, 0, 10 * M, 10 * M, 55 * M, M), 59 * M);
    // The same VM with MaxStretch 30 min: 49 min past TimeoutIdle is too long, so it goes at TimeoutIdle, not at 40 min.
    assert.equal(keptUntil(HOURLY, 0, 10 * M, 10 * M, 30 * M, M), undefined);
  });

  it('never shuts down just after an increment began: asked past an hour boundary, it keeps to the end of the new (paid) hour', () => {
    // TimeoutIdle reached at 50 min but the pool asks at 61 min (a warm pool held it): the second hour is paid already.
    assert.equal(keptUntil(HOURLY, 0, 50 * M, 61 * M, 80 * M, M), 119 * M);
  });

  it('shuts down at once within the margin of the period end, and never stretches per-second billing', () => {
    assert.equal(keptUntil(HOURLY, 0, 59 * M + 30 * S, 59 * M + 30 * S, H, M), undefined);
    // EC2: a VM that went idle 30 s after its create call reaches TimeoutIdle at 90 s, past its 60 s minimum: paid to the next second.
    assert.equal(keptUntil(EC2_LINUX_BILLING, 0, 90 * S, 90 * S, H, 10 * S), undefined);
    // Within its minimum (idle at once, TimeoutIdle 20 s): kept to the minimum's end minus the margin.
    assert.equal(keptUntil(EC2_LINUX_BILLING, 0, 20 * S, 20 * S, H, 10 * S), 50 * S);
  });

  it('keeps a VM exactly MaxStretch past TimeoutIdle, and shuts down one whose period ends, less the margin, exactly now', () => {
    // Paid until 60 min, kept until 59 min: 49 min after TimeoutIdle at 10 min.
    assert.equal(keptUntil(HOURLY, 0, 10 * M, 10 * M, 49 * M, M), 59 * M);
    assert.equal(keptUntil(HOURLY, 0, 59 * M, 59 * M, H, M), undefined);
  });

  describe('IdleStretcher', () => {
    let likely: boolean;
    let asked: Array<[string, number]>;
    const policy: IdleStretchPolicy = {
      rule: (name) => (name === 'hourly' ? HOURLY : undefined),
      maxStretchMs: H,
      marginMs: M,
      likely: (name, within) => {
        asked.push([name, within]);
        return likely;
      },
    };
    const worker = (type: string, busy: number): StretchCandidate => ({ type: { Name: type }, busy, billedFrom: 0, kept: undefined });
    beforeEach(() => {
      likely = true;
      asked = [];
    });

    it('keeps only when work is likely before the period ends, and decides once per idle spell', () => {
      const s = new IdleStretcher(policy);
      const w = worker('hourly', 9 * M);
      assert.equal(s.keeps(w, 10 * M, M), true);
      assert.deepEqual(asked, [['hourly', 49 * M]]);
      likely = false;
      assert.equal(s.keeps(w, 30 * M, M), true, 'the decision stands');
      assert.equal(IdleStretcher.note(w, 30 * M), 'idle, kept to the end of its paid hour (29 min)');
      assert.equal(s.keeps(w, 59 * M, M), false, 'shut down at the end of the paid period minus the margin');
      assert.equal(IdleStretcher.note(w, 59 * M), undefined);
      assert.deepEqual(s.stats, { kept: 1, reused: 0 });
      const unlikely = worker('hourly', 9 * M);
      assert.equal(s.keeps(unlikely, 10 * M, M), false, 'no work likely: shut down at TimeoutIdle');
      assert.deepEqual(s.stats, { kept: 1, reused: 0 });
    });

    it('never keeps a VM without a rule, or one it did not create (its billing start is unknown), and asks nothing', () => {
      const s = new IdleStretcher(policy);
      assert.equal(s.keeps(worker('exact', 9 * M), 10 * M, M), false);
      assert.equal(s.keeps({ ...worker('hourly', 9 * M), billedFrom: undefined }, 10 * M, M), false);
      assert.deepEqual(asked, []);
    });

    it('counts a kept VM that got a container, and decides afresh for its next idle spell', () => {
      const s = new IdleStretcher(policy);
      const w = worker('hourly', 9 * M);
      assert.equal(s.keeps(w, 10 * M, M), true);
      s.starting(w, 20 * M);
      assert.deepEqual(s.stats, { kept: 1, reused: 1 });
      assert.equal(w.kept, undefined);
      // It ran 30 min, idle again from 50 min: TimeoutIdle at 51 min, paid until 60 min.
      const again = { ...w, busy: 50 * M };
      assert.equal(s.keeps(again, 51 * M, M), true);
      assert.equal(again.kept?.until, 59 * M);
      // Kept within a minimum: the note says so.
      const ec2 = new IdleStretcher({ ...policy, rule: () => EC2_LINUX_BILLING, marginMs: 10 * S });
      const young = worker('ec2', 0);
      assert.equal(ec2.keeps(young, 20 * S, 20 * S), true);
      assert.equal(IdleStretcher.note(young, 20 * S), 'idle, kept to the end of its paid minimum (1 min)');
      // A worker never kept is not counted when it starts a container.
      const other = worker('exact', 0);
      s.starting(other, 5 * M);
      assert.deepEqual(s.stats, { kept: 2, reused: 1 });
    });

    it('counts and notes a keep only for the idle spell it was decided for, and only while it holds', () => {
      const s = new IdleStretcher(policy);
      likely = false;
      const held = worker('hourly', 9 * M);
      assert.equal(s.keeps(held, 10 * M, M), false);
      s.starting(held, 20 * M);
      assert.deepEqual(s.stats, { kept: 0, reused: 0 }, 'not kept (a warm pool held it): not counted when it starts a container');
      likely = true;
      const w = worker('hourly', 9 * M);
      assert.equal(s.keeps(w, 10 * M, M), true);
      const busyAgain = { ...w, busy: 15 * M };
      assert.equal(IdleStretcher.note(busyAgain, 20 * M), undefined, 'ran something since: the note is gone');
      s.starting(busyAgain, 20 * M);
      assert.deepEqual(s.stats, { kept: 1, reused: 0 }, 'a keep of an earlier idle spell is not a reuse');
    });
  });
});

describe('idle stretch: the pool', function () {
  this.timeout(20_000);
  let h: Harness;
  afterEach(async () => {
    await h?.stop();
  });

  const stretcher = (rule: BillingRule | undefined, likely: boolean): IdleStretcher =>
    new IdleStretcher({ rule: () => rule, maxStretchMs: H, marginMs: M, likely: () => likely });

  /** The worker's state at each of `times` (ms after it went idle), stepping the clock in probe intervals. */
  async function statesAt(times: number[], createdFor?: string): Promise<{ states: string[]; notes: Array<string | undefined> }> {
    const id = await h.createIdle(undefined, createdFor);
    const t0 = h.clock.now();
    const states: string[] = [];
    const notes: Array<string | undefined> = [];
    for (const t of times) {
      while (h.clock.now() - t0 < t) await h.tick(Math.min(10 * S, t - (h.clock.now() - t0)));
      states.push(h.pool.detail(id)!.workerState);
      const view = h.pool.instances().find((v) => v.instance === id);
      if (view) assert.equal(view.note, createdFor, 'the note of why it was created stays');
      const note = view?.keptNote ?? view?.note;
      // The management API's item (and the status page, which reads it) shows the same.
      const api = h.pool.apiInstances().find((v) => v.instance === id);
      assert.equal(api && instanceViewJSON(api).note, note);
      notes.push(note);
    }
    return { states, notes };
  }

  it('per hour, work likely: idle until just before the paid hour ends, with a note saying why, then shut down', async () => {
    const s = stretcher(HOURLY, true);
    h = await Harness.start({ params: { DestroyDelay: '1h' }, cloudVMs: { TimeoutIdle: M }, idleStretch: s });
    h.pool.start();
    await h.tick(0);
    const { states, notes } = await statesAt([2 * M, 30 * M, 57 * M, 59 * M + 30 * S]);
    assert.deepEqual(states, ['idle', 'idle', 'idle', 'shutdown']);
    assert.match(notes[1]!, /^idle, kept to the end of its paid hour \(29 min\)$/);
    assert.deepEqual(s.stats, { kept: 1, reused: 0 });
  });

  it('a VM created with a note (pre-warmed, say) keeps that note under the kept one, so what created it still knows it', async () => {
    const s = stretcher(HOURLY, true);
    h = await Harness.start({ params: { DestroyDelay: '1h' }, cloudVMs: { TimeoutIdle: M }, idleStretch: s });
    h.pool.start();
    await h.tick(0);
    const why = "pre-warmed for runner zzzzz-dz642-000000000000001's children (#1)";
    const { states, notes } = await statesAt([30 * S, 30 * M], why);
    assert.deepEqual(states, ['idle', 'idle']);
    assert.deepEqual(notes, [why, 'idle, kept to the end of its paid hour (29 min)']);
  });

  it('per hour, no work likely; per second; or off: shut down at TimeoutIdle, as today', async () => {
    for (const s of [stretcher(HOURLY, false), stretcher(EC2_LINUX_BILLING, true), undefined]) {
      h = await Harness.start({ params: { DestroyDelay: '1h' }, cloudVMs: { TimeoutIdle: M }, ...(s ? { idleStretch: s } : {}) });
      h.pool.start();
      await h.tick(0);
      const { states } = await statesAt([50 * S, 80 * S]);
      assert.deepEqual(states, ['idle', 'shutdown']);
      if (s) assert.deepEqual(s.stats, { kept: 0, reused: 0 });
      await h.stop();
    }
  });
});
