/**
 * The model behind the event feed fuzz suite's Hints property
 * (`event-feed.test.ts`): random cases (events about a small pool of
 * containers, the queue tracking them or not as time goes on, resyncs, time
 * passing, refreshes that take random times and fail at random), a queue
 * stand-in that records every call the hints make, and the checks run on
 * what it recorded once all is quiet.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ManualClock } from '../../src/clock/index.js';
import { Hints, type HintTarget } from '../../src/queue/hints.js';
import { captureLogger } from '../arvados/helpers.js';

export const STATES = ['Queued', 'Locked', 'Running', 'Complete', 'Cancelled'] as const;
export type State = (typeof STATES)[number];
/** The uuid of container number `n` of the pool. */
export const U = (n: number): string => `zzzzz-dz642-${String(n).padStart(15, '0')}`;

const stateArb = fc.option(fc.constantFrom<State>(...STATES), { nil: undefined });
const POOL = 6;

type HintOp =
  | { t: 'event'; n: number; oldState?: State; newState?: State }
  | { t: 'track'; n: number; state?: State }
  | { t: 'advance'; ms: number }
  | { t: 'resync' };

const hintOpArb: fc.Arbitrary<HintOp> = fc.oneof(
  { weight: 6, arbitrary: fc.record({ t: fc.constant('event' as const), n: fc.nat({ max: POOL - 1 }), oldState: stateArb, newState: stateArb }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constant('track' as const), n: fc.nat({ max: POOL - 1 }), state: stateArb }) },
  { weight: 3, arbitrary: fc.record({ t: fc.constant('advance' as const), ms: fc.oneof(fc.constant(0), fc.nat({ max: 50 }), fc.nat({ max: 1500 })) }) },
  { weight: 1, arbitrary: fc.constant({ t: 'resync' as const }) },
);

export interface HintsCase {
  minGapMs: number;
  lazyMs: number;
  maxNew: number;
  /** Each call of the model queue takes the next of these (round robin): how long, and whether it fails. */
  outcomes: Array<{ ms: number; fail: boolean }>;
  ops: HintOp[];
}

export const hintsCaseArb: fc.Arbitrary<HintsCase> = fc.record({
  minGapMs: fc.integer({ min: 1, max: 200 }),
  lazyMs: fc.integer({ min: 0, max: 1500 }),
  maxNew: fc.nat({ max: 4 }),
  outcomes: fc.array(fc.record({ ms: fc.oneof(fc.constant(0), fc.nat({ max: 400 })), fail: fc.boolean() }), { minLength: 1, maxLength: 8 }),
  ops: fc.array(hintOpArb, { maxLength: 60 }),
});

/** One call the hints made of the queue. */
interface Call {
  kind: 'refresh' | 'poll';
  uuids: string[];
  at: number;
  /** Events handed in before it began. */
  afterEvents: number;
  /** Made by `resync()`, not by a refresh of hints. */
  resync: boolean;
  failed?: boolean;
  done: boolean;
}

/** A queue stand-in that records every call and checks, as each begins, that no other refresh is in flight. */
class ModelQueue implements HintTarget {
  readonly states = new Map<string, State>();
  readonly calls: Call[] = [];
  readonly violations: string[] = [];
  events = 0;
  inResync = false;
  /**
   * Containers hinted 'now' since the last refresh began: the next refresh
   * reads them all (or leaves them to its poll). Lazy ones it reads only
   * when due and still tracked, and then names them in its uuid read.
   */
  readonly waitingNow = new Set<string>();
  /** What the refresh in flight reads, and its calls. */
  private batch?: { uuids: Set<string>; calls: Call[] };
  private next = 0;

  constructor(
    private readonly clock: ManualClock,
    private readonly outcomes: HintsCase['outcomes'],
  ) {}

  known(uuid: string): { state: string } | undefined {
    const state = this.states.get(uuid);
    return state === undefined ? undefined : { state };
  }

  /** The containers the refresh in flight reads; none when none is in flight. */
  reading(): ReadonlySet<string> {
    return this.batch && !this.batch.calls.every((o) => o.done) ? this.batch.uuids : new Set();
  }

  refresh(uuids: string[]): Promise<void> {
    return this.call('refresh', [...uuids]);
  }

  update(): Promise<void> {
    return this.call('poll', []);
  }

  private async call(kind: Call['kind'], uuids: string[]): Promise<void> {
    const c: Call = { kind, uuids, at: this.clock.now(), afterEvents: this.events, resync: this.inResync, done: false };
    if (!c.resync) {
      // A refresh that polls calls refresh and update together; anything else in flight is a second refresh.
      for (const o of this.calls) {
        if (o.done || o.resync) continue;
        if (o.at !== c.at || o.afterEvents !== c.afterEvents || o.kind === c.kind) {
          this.violations.push(`${kind} at +${c.at} began while a ${o.kind} begun at +${o.at} was in flight`);
        }
      }
    }
    this.calls.push(c);
    if (!c.resync) {
      // A refresh that polls makes both calls at once; the first may have ended (at once) before the second begins.
      const sameRefresh = this.batch?.calls.some((o) => o.at === c.at && o.afterEvents === c.afterEvents);
      if (!this.batch || (!sameRefresh && this.batch.calls.every((o) => o.done))) {
        this.batch = { uuids: new Set(this.waitingNow), calls: [] };
        this.waitingNow.clear();
      }
      for (const uuid of uuids) this.batch.uuids.add(uuid);
      this.batch.calls.push(c);
    }
    const outcome = this.outcomes[this.next++ % this.outcomes.length];
    try {
      if (outcome.ms > 0) await this.clock.sleep(outcome.ms);
      if (outcome.fail) {
        c.failed = true;
        throw new Error('controller said 503');
      }
    } finally {
      c.done = true;
    }
  }
}

/**
 * The table in hints.ts, restated: what an event should cost given what the
 * queue tracks, and whether the refresh in flight reads the container.
 */
function expectedKind(known: State | undefined, reading: boolean, oldState?: State, newState?: State): 'now' | 'lazy' | 'ignore' {
  if (known === undefined) {
    if (newState === undefined || newState === 'Queued') return 'now';
    return reading ? 'lazy' : 'ignore';
  }
  if (oldState !== undefined && newState !== undefined && oldState !== newState && newState === known) return 'ignore';
  return 'lazy';
}

/**
 * Runs one case to quiescence and checks it: no second refresh in flight, refreshes
 * minGapMs apart, every event worth a refresh followed by one that names it (or a
 * poll), and the stats.
 */
export async function runHintsCase(c: HintsCase): Promise<void> {
  const clock = new ManualClock(0);
  const q = new ModelQueue(clock, c.outcomes);
  const { logger } = captureLogger();
  const hints = new Hints({ target: q, clock, logger, minGapMs: c.minGapMs, lazyMs: c.lazyMs, maxNew: c.maxNew });
  const hinted: Array<{ seq: number; uuid: string; kind: 'now' | 'lazy'; untracked: boolean }> = [];
  /** When the queue stopped tracking a container: a lazy hint about it may then be dropped unread. */
  const untracked: Array<{ seq: number; uuid: string }> = [];
  let ignored = 0;
  let resyncs = 0;
  for (const op of c.ops) {
    if (op.t === 'event') {
      const uuid = U(op.n);
      const kind = expectedKind(q.states.get(uuid), q.reading().has(uuid), op.oldState, op.newState);
      if (kind === 'ignore') ignored++;
      else {
        hinted.push({ seq: q.events, uuid, kind, untracked: !q.states.has(uuid) });
        if (kind === 'now') q.waitingNow.add(uuid);
      }
      q.events++;
      hints.event({ uuid, oldState: op.oldState, newState: op.newState });
    } else if (op.t === 'track') {
      if (op.state === undefined) {
        if (q.states.delete(U(op.n))) untracked.push({ seq: q.events, uuid: U(op.n) });
      }
      else q.states.set(U(op.n), op.state);
    } else if (op.t === 'advance') {
      await clock.advance(op.ms);
    } else {
      resyncs++;
      q.inResync = true;
      hints.resync();
      q.inResync = false;
    }
  }
  // Quiet: run every timer (lazy waits, refresh durations) to the end.
  await clock.runAll(3_600_000);
  const context = (): string => JSON.stringify({ calls: q.calls, stats: hints.stats });

  assert.deepEqual(q.violations, [], context());
  assert.equal(hints.pending(), 0, 'no hint is left waiting');
  assert.ok(q.calls.every((x) => x.done), 'every call has ended');

  // Refreshes (the calls the hints made, not resync's polls), grouped by when they began: one group per refresh.
  const own = q.calls.filter((x) => !x.resync);
  const groups = new Map<number, Call[]>();
  for (const x of own) groups.set(x.at, [...(groups.get(x.at) ?? []), x]);
  const starts = [...groups.keys()].sort((a, b) => a - b);
  for (let i = 1; i < starts.length; i++) {
    assert.ok(starts[i] - starts[i - 1] >= c.minGapMs, `refreshes at +${starts[i - 1]} and +${starts[i]}, under ${c.minGapMs} ms apart: ${context()}`);
  }
  for (const [at, g] of groups) {
    assert.ok(g.filter((x) => x.kind === 'refresh').length <= 1 && g.filter((x) => x.kind === 'poll').length <= 1, `two refreshes at +${at}: ${context()}`);
  }

  for (const e of hinted) {
    const read = own.some((x) => x.afterEvents > e.seq && (x.kind === 'poll' || x.uuids.includes(e.uuid)));
    // A lazy hint is dropped when its container is no longer tracked once it is due: the queue let it go.
    const letGo = e.kind === 'lazy' && (e.untracked || untracked.some((u) => u.uuid === e.uuid && u.seq > e.seq));
    assert.ok(read || letGo, `event #${e.seq} about ${e.uuid} (${e.kind}) is never read: ${context()}`);
  }

  const failedGroups = [...groups.values()].filter((g) => g.some((x) => x.failed)).length;
  const failedResyncs = q.calls.filter((x) => x.resync && x.failed).length;
  assert.deepEqual(hints.stats, {
    events: q.events,
    ignored,
    refreshes: groups.size - failedGroups,
    polls: resyncs + own.filter((x) => x.kind === 'poll').length,
    failures: failedGroups + failedResyncs,
  });
  hints.stop();
}
