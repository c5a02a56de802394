/**
 * The dispatch lock's lease, on a manual clock with a scripted database
 * client: the fence refuses once `leaseMs` have passed since the last
 * confirmation check was SENT. Counting from the answer instead would
 * stretch the lease by the check's round trip (up to checkTimeoutMs, 2 s,
 * more than marginMs, 1.5 s), so an earlier holder could still act after a
 * new holder has waited out lease + margin: two dispatchers acting at once.
 */
import assert from 'node:assert/strict';
import { EventEmitter } from 'node:events';
import type pg from 'pg';
import { ManualClock } from '../../src/clock/index.js';
import { isDispatchLockLostError } from '../../src/dblock/fence.js';
import { DEFAULT_LOCK_TIMING, DispatchLock, type LockEpoch } from '../../src/dblock/lock.js';
import { silentLogger } from '../../src/log.js';

type CheckMode = 'prompt' | 'slow-then-silent' | 'silent';

/**
 * A pg.Client stand-in: connects and takes the lock at once; each lock check
 * answers "held" at once ('prompt'), or once after `slowMs` and then never
 * again ('slow-then-silent'), or never ('silent').
 */
class FakePgClient extends EventEmitter {
  mode: CheckMode = 'prompt';
  /** When each lock check was sent, and when it was answered (undefined: never). */
  readonly checks: { sentAt: number; answeredAt?: number }[] = [];

  constructor(
    private readonly clock: ManualClock,
    private readonly slowMs: number,
  ) {
    super();
  }

  async connect(): Promise<void> {}

  async end(): Promise<void> {}

  query(sql: string): Promise<{ rows: unknown[] }> {
    if (sql.includes('pg_try_advisory_lock')) return Promise.resolve({ rows: [{ locked: true }] });
    if (sql.includes('pg_advisory_unlock')) return Promise.resolve({ rows: [{ pg_advisory_unlock: true }] });
    if (!sql.includes('pg_backend_pid()')) return Promise.reject(new Error(`unexpected query: ${sql}`));
    const check: { sentAt: number; answeredAt?: number } = { sentAt: this.clock.now() };
    this.checks.push(check);
    const held = { rows: [{ held: 1 }] };
    switch (this.mode) {
      case 'prompt':
        check.answeredAt = check.sentAt;
        return Promise.resolve(held);
      case 'slow-then-silent':
        this.mode = 'silent';
        return new Promise((resolve) =>
          this.clock.setTimer(this.slowMs, () => {
            check.answeredAt = this.clock.now();
            resolve(held);
          }),
        );
      case 'silent':
        return new Promise(() => undefined);
    }
  }
}

describe('dispatch lock lease (manual clock, scripted client)', () => {
  it('the fence refuses leaseMs after the last confirmation was sent, not after its answer arrived', async () => {
    const clock = new ManualClock();
    const timing = DEFAULT_LOCK_TIMING;
    const slowMs = 1900;
    // The premise: a late answer stretches the lease by more than the new holder's margin.
    assert.ok(slowMs < timing.checkTimeoutMs && slowMs > timing.marginMs);
    const client = new FakePgClient(clock, slowMs);
    const lock = new DispatchLock({ newClient: () => client as unknown as pg.Client, clock, logger: silentLogger(), timing });
    const abort = new AbortController();
    let epoch: LockEpoch | undefined;
    const acquiring = lock.acquire(abort.signal).then((e) => (epoch = e));
    await clock.advance(timing.leaseMs + timing.marginMs);
    await acquiring;
    assert.ok(epoch);
    assert.equal(lock.current().state, 'held');
    const action = { Action: 'lock', ContainerUUID: 'zzzzz-dz642-000000000000000' } as const;
    epoch.check(action);

    // The next check answers late, and no check after it answers at all.
    client.mode = 'slow-then-silent';
    const before = client.checks.length;
    await clock.advanceTo(clock.now() + timing.checkMs);
    assert.equal(client.checks.length, before + 1, 'the slow check was sent');
    const slow = client.checks[before];
    const sentAt = slow.sentAt;

    await clock.advanceTo(sentAt + slowMs);
    assert.equal(slow.answeredAt, sentAt + slowMs, 'the slow check answered "held", 1.9 s after it was sent');
    assert.equal(lock.current().state, 'held');

    // Just before the lease from the send runs out, the fence is open: the
    // late answer did confirm (the check before it, sent 1 s earlier, would
    // have run out already).
    await clock.advanceTo(sentAt + timing.leaseMs - 1);
    assert.equal(lock.current().state, 'held');
    epoch.check(action);

    // At sentAt + leaseMs it refuses, although the answer is only 2.1 s old
    // and the check in flight has not timed out yet.
    await clock.advanceTo(sentAt + timing.leaseMs);
    const pending = client.checks.slice(before + 1);
    assert.equal(pending.length, 1, 'one more check is in flight');
    assert.equal(pending[0].answeredAt, undefined, 'unanswered');
    assert.ok(pending[0].sentAt + timing.checkTimeoutMs > clock.now(), 'and not timed out yet');
    assert.throws(() => epoch!.check(action), isDispatchLockLostError, 'the fence refuses at sentAt + leaseMs');
    assert.equal(lock.current().state, 'lost');
    assert.match(lock.current().detail, /not confirmed for 4000 ms/);

    abort.abort();
    await lock.release();
  });
});
