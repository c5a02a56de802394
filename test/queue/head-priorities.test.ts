/**
 * The head of the queued list read from a controller that keeps priorities
 * as the int64s they are. Since Arvados 2.7 they are about 5.6e17, where one
 * JavaScript number stands for 64 integers: containers of two requests made
 * a few ms apart read as the same priority, while the server orders them
 * apart; and a number sent back in a filter is decoded into a double by the
 * controller, so `priority = <what we read>` may match nothing.
 *
 * `ExactLists` is that controller, for the lists: exact priorities, filters
 * applied as the API server applies them (a numeric operand through a
 * double first, a string one as written), exact order, and pages that the
 * server may cut short.
 */
import assert from 'node:assert/strict';
import fc from 'fast-check';
import type { ListParams } from '../../src/arvados/list-query.js';
import { priorityOperand, priorityRange, REQUEST_PRIORITY_SCALE } from '../../src/arvados/priority.js';
import type { Container, ItemList } from '../../src/arvados/types.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { ManualClock } from '../../src/clock/manual.js';
import { HEAD_TARGET, type ListClient, readHead } from '../../src/queue/lists.js';
import { BadRecordLog } from '../../src/queue/validate.js';

interface Row {
  uuid: string;
  priority: bigint;
}

/** An operand as the controller and the API server take it: a JSON number becomes a double, printed back shortest. */
function operandValue(v: unknown): bigint {
  if (typeof v === 'number') return BigInt(String(v));
  if (typeof v === 'string' && /^-?\d+$/.test(v)) return BigInt(v);
  throw new Error(`422: invalid operand ${JSON.stringify(v)} for an integer attribute`);
}

function matches(r: Row, [attr, op, operand]: [string, string, unknown]): boolean {
  if (attr === 'state') return op === '=' && operand === 'Queued';
  if (attr === 'uuid' && op === '>') return r.uuid > (operand as string);
  if (attr !== 'priority') throw new Error(`unexpected filter on ${attr}`);
  const x = operandValue(operand);
  switch (op) {
    case '=':
      return r.priority === x;
    case '<':
      return r.priority < x;
    case '<=':
      return r.priority <= x;
    case '>':
      return r.priority > x;
    case '>=':
      return r.priority >= x;
  }
  throw new Error(`unexpected operator ${op}`);
}

class ExactLists implements ListClient {
  readonly requests: ListParams[] = [];
  private cutAt = 0;

  /** @param cuts page lengths the server cuts successive pages to (0 = not cut), in turn. */
  constructor(
    private readonly rows: readonly Row[],
    private readonly cuts: readonly number[] = [],
  ) {}

  listContainers(p: ListParams): Promise<ItemList<Container>> {
    this.requests.push(p);
    const hits = this.rows.filter((r) => p.filters.every((f) => matches(r, f)));
    const order = typeof p.order === 'string' ? [p.order] : (p.order ?? []);
    if (order.join() === 'uuid') hits.sort((a, b) => (a.uuid < b.uuid ? -1 : 1));
    else if (order.join() === 'priority desc,uuid asc') hits.sort((a, b) => (a.priority !== b.priority ? (a.priority > b.priority ? -1 : 1) : a.uuid < b.uuid ? -1 : 1));
    else throw new Error(`unexpected order ${JSON.stringify(p.order)}`);
    const cut = this.cuts.length > 0 ? this.cuts[this.cutAt++ % this.cuts.length] : 0;
    const n = Math.min(p.limit ?? 100, cut > 0 ? cut : Infinity);
    // What JSON.parse makes of the answer's integers: the nearest double.
    const items = hits.slice(0, n).map((r) => ({ uuid: r.uuid, state: 'Queued', priority: Number(r.priority), locked_by_uuid: null }));
    return Promise.resolve({ items: items as unknown as Container[] });
  }
}

const logger = createLogger({ level: 'error', stream: new LineCollector() });
const bad = new BadRecordLog(logger, new ManualClock());

const T0 = 1_764_900_000_000n; // about 2025-12: a request's creation time in ms

/** A queue: each container's request priority and creation time; many share one (a workflow's steps), some are ms apart. */
const queueArb = fc
  .record({
    old: fc.boolean(),
    workflows: fc.array(fc.record({ request: fc.constantFrom(1n, 499n, 500n, 501n, 1000n), ms: fc.bigInt({ min: 0n, max: 2_000n }) }), { minLength: 1, maxLength: 8 }),
    picks: fc.array(fc.tuple(fc.nat(), fc.stringMatching(/^[a-z0-9]{15}$/), fc.boolean()), { minLength: 1, maxLength: 260 }),
  })
  .map(({ old, workflows, picks }) => {
    const seen = new Set<string>();
    const rows: Row[] = [];
    const supervisors = new Set<string>();
    for (const [w, tail, sup] of picks) {
      const uuid = `zzzzz-dz642-${tail}`;
      if (seen.has(uuid)) continue;
      seen.add(uuid);
      const { request, ms } = workflows[w % workflows.length];
      rows.push({ uuid, priority: old ? request : request * BigInt(REQUEST_PRIORITY_SCALE) - (T0 + ms) });
      if (sup) supervisors.add(uuid);
    }
    return { rows, supervisors };
  });

describe('the head of the queue, with exact 64-bit priorities', () => {
  it('priorityRange gives exactly the integers that read as the number, and priorityOperand writes them exactly', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), (exact) => {
        const p = JSON.parse(exact.toString()) as number;
        const { lo, hi } = priorityRange(p);
        assert.ok(lo <= exact && exact <= hi, `${exact} in [${lo}, ${hi}]`);
        for (const n of [lo, hi]) assert.equal(JSON.parse(n.toString()), p);
        if (lo > 0n) assert.notEqual(JSON.parse((lo - 1n).toString()), p);
        assert.notEqual(JSON.parse((hi + 1n).toString()), p);
        if (Number.isSafeInteger(p)) assert.equal(lo, hi);
        for (const n of [lo, hi]) {
          const op = priorityOperand(n);
          assert.equal(typeof op === 'number' ? BigInt(op) : BigInt(op), n);
        }
      }),
      { numRuns: 5000 },
    );
    // At a power of two the gap below is half the gap above.
    assert.deepEqual(priorityRange(2 ** 60), { lo: 2n ** 60n - 64n, hi: 2n ** 60n + 128n });
    assert.deepEqual(priorityRange(2 ** 53), { lo: 2n ** 53n, hi: 2n ** 53n + 1n });
    assert.equal(priorityOperand(500n), 500);
    assert.equal(priorityOperand(562949953421311937n), '562949953421311937');
  });

  it('reads the whole queue, each container once, when it holds fewer than the target of non-supervisors', async () => {
    await fc.assert(
      fc.asyncProperty(queueArb, fc.integer({ min: 1, max: 40 }), fc.array(fc.nat({ max: 5 }), { maxLength: 5 }), async ({ rows }, pageSize, cuts) => {
        const ctl = new ExactLists(rows, cuts);
        const head = await readHead({ client: ctl, bad, logger }, pageSize, 100_000, () => true);
        assert.equal(head.complete, true, `complete after ${ctl.requests.length} requests`);
        assert.deepEqual(head.items.map((c) => c.uuid).sort(), rows.map((r) => r.uuid).sort());
        for (let i = 1; i < head.items.length; i++) assert.ok(head.items[i - 1].priority >= head.items[i].priority, 'highest first');
      }),
      { numRuns: 300 },
    );
  });

  it('stops at the target with a true head: nothing left unread outranks anything read', async () => {
    await fc.assert(
      fc.asyncProperty(queueArb, fc.integer({ min: 1, max: 40 }), fc.array(fc.nat({ max: 5 }), { maxLength: 5 }), async ({ rows, supervisors }, pageSize, cuts) => {
        const ctl = new ExactLists(rows, cuts);
        const head = await readHead({ client: ctl, bad, logger }, pageSize, 100_000, (u) => supervisors.has(u));
        const read = new Set(head.items.map((c) => c.uuid));
        assert.equal(read.size, head.items.length, 'each once');
        const nonSupervisors = head.items.filter((c) => !supervisors.has(c.uuid)).length;
        if (head.complete) assert.equal(read.size, rows.length);
        else assert.ok(nonSupervisors >= HEAD_TARGET, `stopped with ${nonSupervisors} non-supervisors, not complete`);
        const lowestRead = Math.min(...head.items.map((c) => c.priority));
        for (const r of rows) {
          if (!read.has(r.uuid)) assert.ok(Number(r.priority) <= lowestRead, `${r.uuid} (${r.priority}) was left unread, above ${lowestRead}`);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('does not count supervisors toward the target: with 60 supervisors on top, it reads on until 100 others are read', async () => {
    // The property tests above draw small queues; this one is past the target.
    const rows: Row[] = Array.from({ length: 200 }, (_, i) => ({ uuid: `zzzzz-dz642-${String(i).padStart(15, '0')}`, priority: BigInt(1000 - i) }));
    const supervisors = new Set(rows.slice(0, 60).map((r) => r.uuid));
    const ctl = new ExactLists(rows);
    const head = await readHead({ client: ctl, bad, logger }, 10, 1000, (u) => supervisors.has(u));
    assert.equal(head.complete, false);
    const others = head.items.filter((c) => !supervisors.has(c.uuid)).length;
    assert.equal(others, HEAD_TARGET, `${others} non-supervisors in a head of ${head.items.length}`);
    assert.equal(head.items.length, 160);
  });

  it('finishes a run of requests made within a few ms of one another, and sends its bounds as exact strings', async () => {
    // Priority 500 requests at T0 + 0..5 ms read as one number; the server orders them by the integers.
    const rows: Row[] = Array.from({ length: 6 }, (_, i) => ({ uuid: `zzzzz-dz642-${String(5 - i).padStart(15, '0')}`, priority: 500n * BigInt(REQUEST_PRIORITY_SCALE) - (T0 + BigInt(i)) }));
    assert.equal(new Set(rows.map((r) => Number(r.priority))).size, 1, 'one number for all six');
    const ctl = new ExactLists(rows);
    const head = await readHead({ client: ctl, bad, logger }, 2, 100, () => false);
    assert.equal(head.complete, true);
    assert.equal(head.items.length, 6);
    const bounds = ctl.requests[1].filters.filter(([a, op]) => a === 'priority' && (op === '>=' || op === '<=')).map(([, , v]) => v);
    assert.equal(bounds.length, 2, JSON.stringify(ctl.requests[1].filters));
    for (const b of bounds) assert.equal(typeof b, 'string');
    const { lo, hi } = priorityRange(Number(rows[0].priority));
    assert.deepEqual(bounds, [lo.toString(), hi.toString()]);
    // Pre-2.7 priorities are exact numbers, and filtered with `=` as before.
    const old = new ExactLists(rows.map((r, i) => ({ uuid: r.uuid, priority: BigInt(500 + (i % 2)) })));
    await readHead({ client: old, bad, logger }, 2, 100, () => false);
    assert.deepEqual(old.requests[1].filters.slice(2), [
      ['priority', '=', 501],
      ['uuid', '>', rows[3].uuid],
    ]);
  });

  it('makes at most maxRequests requests, also when a run ends on the last one allowed', async () => {
    const rows: Row[] = [
      { uuid: 'zzzzz-dz642-000000000000001', priority: 5n },
      { uuid: 'zzzzz-dz642-000000000000002', priority: 3n },
    ];
    const ctl = new ExactLists(rows);
    // Request 1: the head's first page (priority 5); request 2: the rest of priority 5's run (empty). No third.
    const head = await readHead({ client: ctl, bad, logger }, 1, 2, () => false);
    assert.equal(ctl.requests.length, 2);
    assert.equal(head.complete, false);
    assert.deepEqual(head.items.map((c) => c.uuid), ['zzzzz-dz642-000000000000001']);
  });

  it('stops when the list after a run does not move on (a server that ignores the priority filter), rather than read it again up to maxRequests', async () => {
    const requests: ListParams[] = [];
    const page = [
      { uuid: 'zzzzz-dz642-000000000000001', state: 'Queued', priority: 5, locked_by_uuid: null },
      { uuid: 'zzzzz-dz642-000000000000002', state: 'Queued', priority: 4, locked_by_uuid: null },
    ];
    const client: ListClient = {
      listContainers: (p) => {
        requests.push(p);
        const run = p.filters.some(([a, op]) => a === 'priority' && op === '=');
        return Promise.resolve({ items: (run ? [] : page) as unknown as Container[] });
      },
    };
    const head = await readHead({ client, bad, logger }, 2, 100, () => false);
    assert.equal(requests.length, 3, 'the head, the run of 4, the priorities below 4: the same page again');
    assert.equal(head.complete, false);
    assert.deepEqual(head.items.map((c) => c.uuid), page.map((c) => c.uuid));
  });
});
