/**
 * Fuzz: the event feed path, from a frame on the wire to the queue.
 *
 * Properties:
 * - `parseFeedMessage` never throws, whatever it is handed (arbitrary text,
 *   arbitrary JSON, valid events with fields replaced, deleted or nested,
 *   arbitrary bytes as text or binary frames), and what it returns is one of
 *   its four kinds, well formed: an event's log id is a positive safe
 *   integer, a container event names a container uuid, an excerpt is short;
 * - `Hints`, against a model queue under a manual clock (refreshes that take
 *   random times and fail at random, containers the queue tracks coming and
 *   going): one refresh in flight at a time, begun at least `minGapMs`
 *   apart, every event worth a refresh followed by one that began after it
 *   and named its container (or a poll; a lazy one may be dropped once the
 *   queue lets its container go), stats that add up, and no unhandled
 *   rejection;
 * - the real queue, linked to the test controller's feed over real sockets
 *   (poll loop not running), agrees with the controller once things are
 *   quiet, after random changes on the controller's side and a feed that
 *   duplicates, reorders, delays and garbles.
 *
 * Full count: `npm run fuzz` (FUZZ_RUNS=10000), or
 * `FUZZ_RUNS=10000 npx mocha --timeout 0 test/fuzz/event-feed.test.ts`;
 * FUZZ_SEED=<seed> repeats a failing run.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { EXCERPT_CHARS, parseFeedMessage, type FeedMessage } from '../../src/arvados/event-message.js';
import { isContainerUuid } from '../../src/arvados/types.js';
import { sleep, waitUntil } from '../../src/harness/processes.js';
import { agrees, asOther, startFeedHarness } from '../queue/feed-harness.js';
import { hintsCaseArb, runHintsCase, STATES, U, type State } from './hints-model.js';
import { fuzzParams, fuzzTimeout } from './runs.js';

/** Records every unhandled rejection while a describe block runs. */
function catchUnhandled(): unknown[] {
  const unhandled: unknown[] = [];
  const onUnhandled = (reason: unknown): void => {
    unhandled.push(reason);
  };
  before(() => process.on('unhandledRejection', onUnhandled));
  after(() => process.off('unhandledRejection', onUnhandled));
  return unhandled;
}

// ---------------------------------------------------------------------------
// 1. The parser.

interface ValidEvent {
  id: number;
  n: number;
  eventType: string;
  oldState?: State;
  newState: State;
  withKind: boolean;
}

/** A well-formed container event, as arvados-ws sends one. */
const validEventArb: fc.Arbitrary<ValidEvent> = fc.record({
  id: fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }),
  n: fc.nat({ max: 999 }),
  eventType: fc.constantFrom('create', 'update', 'delete'),
  oldState: fc.option(fc.constantFrom(...STATES), { nil: undefined }),
  newState: fc.constantFrom(...STATES),
  withKind: fc.boolean(),
});

function eventObject(e: ValidEvent): Record<string, unknown> {
  const properties: Record<string, unknown> = { new_attributes: { state: e.newState, name: 'x' } };
  if (e.oldState !== undefined) properties.old_attributes = { state: e.oldState };
  const msg: Record<string, unknown> = {
    msgID: e.id,
    id: e.id,
    uuid: `zzzzz-57u5n-${String(e.n).padStart(15, '0')}`,
    object_uuid: U(e.n),
    object_owner_uuid: 'zzzzz-tpzed-000000000000000',
    event_type: e.eventType,
    event_at: '2026-12-04T21:00:00.123Z',
    properties,
  };
  if (e.withKind) msg.object_kind = 'arvados#container';
  return msg;
}

/** Where a mutation strikes: a top-level field, or one inside properties. */
const PATHS = [
  ['id'],
  ['msgID'],
  ['status'],
  ['object_uuid'],
  ['object_kind'],
  ['event_type'],
  ['event_at'],
  ['properties'],
  ['properties', 'old_attributes'],
  ['properties', 'new_attributes'],
  ['properties', 'old_attributes', 'state'],
  ['properties', 'new_attributes', 'state'],
  ['__proto__'],
  ['constructor'],
] as const;

/** Values near the edges of what the parser checks: ids that are not positive safe integers, states and uuids of the wrong type or shape. */
const edgeValueArb: fc.Arbitrary<unknown> = fc.oneof(
  fc.constantFrom(0, -1, 1.5, 2 ** 53, 1e308, '7', '', null, true, [], {}, 'Queued', U(1), 'zzzzz-dz642-short', 'arvados#container', 'arvados#collection'),
  fc.double({ noNaN: true }),
  fc.integer(),
  fc.string({ minLength: 190, maxLength: 400 }),
);

type Mutation = { path: readonly string[]; op: 'replace'; value: unknown } | { path: readonly string[]; op: 'delete' | 'nest-array' | 'nest-object' };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ path: fc.constantFrom(...PATHS), op: fc.constant('replace' as const), value: fc.oneof(fc.jsonValue({ maxDepth: 3 }), edgeValueArb) }),
  fc.record({ path: fc.constantFrom(...PATHS), op: fc.constantFrom('delete' as const, 'nest-array' as const, 'nest-object' as const) }),
);

/** Applies a mutation in place; a path through something that is not an object is left alone. */
function mutate(root: Record<string, unknown>, m: Mutation): void {
  let obj: unknown = root;
  for (const key of m.path.slice(0, -1)) {
    if (obj === null || typeof obj !== 'object') return;
    obj = Object.prototype.hasOwnProperty.call(obj, key) ? (obj as Record<string, unknown>)[key] : undefined;
  }
  if (obj === null || typeof obj !== 'object') return;
  const o = obj as Record<string, unknown>;
  const key = m.path[m.path.length - 1];
  const cur = Object.prototype.hasOwnProperty.call(o, key) ? o[key] : undefined;
  const set = (v: unknown): void => {
    Object.defineProperty(o, key, { value: v, enumerable: true, writable: true, configurable: true });
  };
  if (m.op === 'replace') set(m.value);
  else if (m.op === 'delete') delete o[key];
  else if (m.op === 'nest-array') set([cur]);
  else set({ [key]: cur });
}

/** What every answer of the parser must look like, whatever it was given. */
function assertWellFormed(m: FeedMessage): void {
  switch (m.kind) {
    case 'status':
      assert.equal(typeof m.status, 'number');
      return;
    case 'heartbeat':
      assert.deepEqual(Object.keys(m), ['kind']);
      return;
    case 'event':
      assert.ok(Number.isSafeInteger(m.logId) && m.logId > 0, `logId ${m.logId}`);
      if (m.container) {
        assert.ok(isContainerUuid(m.container.uuid), `container uuid ${m.container.uuid}`);
        assert.equal(m.container.logId, m.logId);
        assert.equal(typeof m.container.eventType, 'string');
        for (const k of ['oldState', 'newState', 'eventAt'] as const) {
          const v = m.container[k];
          assert.ok(v === undefined || typeof v === 'string', `${k} ${String(v)}`);
        }
      }
      return;
    case 'garbage':
      assert.equal(typeof m.reason, 'string');
      assert.equal(typeof m.excerpt, 'string');
      assert.ok(m.excerpt.length <= EXCERPT_CHARS, `excerpt of ${m.excerpt.length} chars`);
      return;
    default:
      assert.fail(`unknown kind ${JSON.stringify(m)}`);
  }
}

/** Parses as the feed client does (a Buffer) or as a caller with a string might. */
function parse(text: string, asBuffer: boolean): FeedMessage {
  return parseFeedMessage(asBuffer ? Buffer.from(text, 'utf8') : text, false);
}

describe('fuzz: the event feed', function () {
  const unhandled = catchUnhandled();

  describe('parseFeedMessage', function () {
    this.timeout(fuzzTimeout(1000, 10_000));

    it('never throws on arbitrary text, and answers one of its four kinds', () => {
      fc.assert(
        fc.property(fc.oneof(fc.string({ unit: 'binary', maxLength: 600 }), fc.string({ maxLength: 60 }), fc.string({ unit: 'binary', minLength: 190, maxLength: 600 })), fc.boolean(), (text, asBuffer) => {
          assertWellFormed(parse(text, asBuffer));
        }),
        fuzzParams(1000),
      );
    });

    it('never throws on arbitrary JSON, and answers one of its four kinds', () => {
      fc.assert(
        fc.property(fc.jsonValue(), fc.boolean(), (v, asBuffer) => {
          assertWellFormed(parse(JSON.stringify(v) ?? 'null', asBuffer));
        }),
        fuzzParams(1000),
      );
    });

    it('reads a valid event exactly, and never throws on one with fields replaced, deleted or nested', () => {
      fc.assert(
        fc.property(validEventArb, fc.array(mutationArb, { maxLength: 4 }), fc.boolean(), (e, mutations, asBuffer) => {
          const msg = eventObject(e);
          for (const m of mutations) mutate(msg, m);
          const out = parse(JSON.stringify(msg), asBuffer);
          assertWellFormed(out);
          if (mutations.length === 0) {
            const container: Record<string, unknown> = { logId: e.id, uuid: U(e.n), eventType: e.eventType, newState: e.newState, eventAt: '2026-12-04T21:00:00.123Z' };
            if (e.oldState !== undefined) container.oldState = e.oldState;
            assert.deepEqual(out, { kind: 'event', logId: e.id, container });
          }
        }),
        fuzzParams(1000),
      );
    });

    it('never throws on arbitrary bytes, as a binary frame or as text', () => {
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), fc.boolean(), (bytes, isBinary) => {
          const out = parseFeedMessage(Buffer.from(bytes), isBinary);
          assertWellFormed(out);
          if (isBinary) assert.equal(out.kind, 'garbage');
        }),
        fuzzParams(1000),
      );
    });
  });

  describe('Hints against a model queue', function () {
    this.timeout(fuzzTimeout(1000, 15_000));

    it('keeps one refresh in flight, minGapMs apart, follows every useful event with a read of it, and counts right', async () => {
      await fc.assert(
        fc.asyncProperty(hintsCaseArb, async (c) => {
          await runHintsCase(c);
          assert.deepEqual(unhandled.splice(0).map(String), []);
        }),
        fuzzParams(1000),
      );
    });
  });
});

// ---------------------------------------------------------------------------
// 3. The real queue converges through the feed.

// Only faults that lose nothing: an event the feed never delivers (loseRate, a
// dropped connection's gap beyond the replay) is caught by the next poll, not
// by the feed, and the poll loop is not running here.
const faultsArb = fc.record({
  duplicateRate: fc.constantFrom(0, 0.2, 0.6),
  reorderWindow: fc.constantFrom(0, 2, 5),
  delayJitterMs: fc.constantFrom(0, 50, 150),
  garbageRate: fc.constantFrom(0, 0.2, 0.5),
  heartbeatMs: fc.constant(200),
  seed: fc.integer({ min: 1, max: 1_000_000 }),
});

type CtlOp =
  | { t: 'add'; priority: number }
  | { t: 'priority'; i: number; priority: number }
  | { t: 'cancel'; i: number }
  | { t: 'lock' | 'unlock'; i: number }
  /**
   * A pause between changes, so that some reach the queue (and its refreshes
   * are in flight) before the next: part of the input's timing, not a wait
   * for anything to happen.
   */
  | { t: 'gap'; ms: number };

const ctlOpArb: fc.Arbitrary<CtlOp> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ t: fc.constant('add' as const), priority: fc.constantFrom(0, 1, 2, 7) }) },
  { weight: 4, arbitrary: fc.record({ t: fc.constant('priority' as const), i: fc.nat(), priority: fc.constantFrom(0, 1, 3, 9) }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('cancel' as const), i: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ t: fc.constantFrom('lock' as const, 'unlock' as const), i: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ t: fc.constant('gap' as const), ms: fc.nat({ max: 60 }) }) },
);

const convergeCaseArb = fc.record({
  faults: faultsArb,
  /** Containers there before the feed connects (the first poll reads them). */
  before: fc.array(fc.constantFrom(0, 1, 5), { maxLength: 4 }),
  ops: fc.array(ctlOpArb, { minLength: 1, maxLength: 25 }),
});

describe('fuzz: the queue through the event feed', function () {
  // Each case starts a controller, a feed and a queue; `npm run fuzz` runs a seventieth of the full count (about 140 cases, some 100 s).
  const SHARE = 70;
  this.timeout(fuzzTimeout(5, 60_000, SHARE));
  const unhandled = catchUnhandled();

  it('agrees with the controller on every container it may run, once things are quiet', async () => {
    await fc.assert(
      fc.asyncProperty(convergeCaseArb, async (c) => {
        const h = await startFeedHarness(c.faults);
        try {
          const uuids = c.before.map((priority) => h.ctl.addContainer({ priority }).uuid);
          await h.connected();
          for (const op of c.ops) {
            if (op.t === 'add') {
              uuids.push(h.ctl.addContainer({ priority: op.priority }).uuid);
              continue;
            }
            if (op.t === 'gap') {
              await sleep(op.ms);
              continue;
            }
            if (uuids.length === 0) continue;
            const uuid = uuids[op.i % uuids.length];
            // An update Arvados logs (runtime_status), moving the priority with it: a priority set from the
            // requests alone makes no event in Arvados, and only a poll (not running here) would see it.
            if (op.t === 'priority') {
              const state = h.ctl.get(uuid)?.state;
              if (state !== 'Cancelled' && state !== 'Complete') h.ctl.setFields(uuid, { runtime_status: { warning: `p ${op.priority}` }, priority: op.priority });
            }
            else if (op.t === 'cancel') h.ctl.cancel(uuid);
            // Refused (422, 403) when the container is not in a state to lock or unlock: that is a change too, of nothing.
            else await asOther(h.ctl.url, uuid, op.t);
          }
          const disagree = (): string =>
            uuids
              .filter((u) => !agrees(h, u))
              .map((u) => `${u}: queue ${JSON.stringify(h.queue.known(u))} controller ${JSON.stringify(pick(h.ctl.get(u)))}`)
              .join('; ');
          await waitUntil('the queue to agree with the controller', () => uuids.every((u) => agrees(h, u)), 10_000, 50, disagree);
        } finally {
          await h.close();
        }
        assert.deepEqual(unhandled.splice(0).map(String), []);
      }),
      fuzzParams(5, SHARE),
    );
  });
});

function pick(c: { state: string; priority: number; locked_by_uuid?: string | null } | undefined): unknown {
  return c && { state: c.state, priority: c.priority, locked_by_uuid: c.locked_by_uuid };
}
