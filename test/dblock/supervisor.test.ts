/**
 * The supervisor that runs a dispatcher only while the dispatch lock is
 * held (`src/dblock/supervisor.ts`), against a scripted lock: a lost lock
 * stops the dispatcher of that tenure and a fresh one runs in the next;
 * stopping stops the dispatcher before the lock is released; the fence of
 * one tenure never opens again.
 */
import assert from 'node:assert/strict';
import { DispatchLockLostError, type FencedAction, isDispatchLockLostError, type Fence } from '../../src/dblock/fence.js';
import type { DispatchLock, LockEpoch } from '../../src/dblock/lock.js';
import { LockedRun, type Runnable, TenureFence } from '../../src/dblock/supervisor.js';
import { createLogger, LineCollector } from '../../src/log.js';

/** One tenure of the scripted lock: open until `lose` (or the release). */
class FakeEpoch implements LockEpoch {
  readonly ended: Promise<string>;
  private endedReason: string | undefined;
  private resolveEnded!: (reason: string) => void;

  constructor() {
    this.ended = new Promise((resolve) => (this.resolveEnded = resolve));
  }

  check(action: FencedAction): void {
    if (this.endedReason !== undefined) throw new DispatchLockLostError(`not acting (${action.Action}): ${this.endedReason}`);
  }

  lose(reason: string): void {
    if (this.endedReason !== undefined) return;
    this.endedReason = reason;
    this.resolveEnded(reason);
  }
}

/** A lock whose `acquire` resolves when the test grants it. */
class FakeLock {
  readonly epochs: FakeEpoch[] = [];
  readonly events: string[] = [];
  private waiting: { resolve: (e: FakeEpoch) => void; reject: (err: unknown) => void } | undefined;

  acquire(signal: AbortSignal): Promise<LockEpoch> {
    this.events.push('acquire');
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(new Error('aborted'));
      this.waiting = { resolve, reject };
      signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true });
    });
  }

  /** Grants the pending `acquire` a new tenure. */
  grant(): FakeEpoch {
    const w = this.waiting;
    assert.ok(w, 'no acquire is waiting');
    this.waiting = undefined;
    const e = new FakeEpoch();
    this.epochs.push(e);
    w.resolve(e);
    return e;
  }

  get acquiring(): boolean {
    return this.waiting !== undefined;
  }

  async release(): Promise<void> {
    this.events.push('release');
    this.epochs.at(-1)?.lose('released');
  }
}

class FakeDispatcher implements Runnable {
  started = 0;
  stopped = 0;
  constructor(
    readonly name: string,
    readonly fence: Fence,
    private readonly events: string[],
  ) {}

  start(): void {
    this.started++;
    this.events.push(`start ${this.name}`);
  }

  async stop(): Promise<void> {
    this.stopped++;
    this.events.push(`stop ${this.name}`);
  }

  /** Whether this dispatcher's fence lets an action through now. */
  mayAct(): boolean {
    try {
      this.fence.check({ Action: 'lock', ContainerUUID: 'zzzzz-dz642-000000000000001' });
      return true;
    } catch (err) {
      if (isDispatchLockLostError(err)) return false;
      throw err;
    }
  }
}

const tick = async (n = 5): Promise<void> => {
  for (let i = 0; i < n; i++) await new Promise((resolve) => setImmediate(resolve));
};

function setup(withFirst: boolean): { lock: FakeLock; run: LockedRun<FakeDispatcher>; built: FakeDispatcher[]; first?: FakeDispatcher; log: LineCollector } {
  const lock = new FakeLock();
  const log = new LineCollector();
  const built: FakeDispatcher[] = [];
  let first: FakeDispatcher | undefined;
  let firstOpt: { dispatcher: FakeDispatcher; fence: TenureFence } | undefined;
  if (withFirst) {
    const fence = new TenureFence();
    first = new FakeDispatcher('first', fence, lock.events);
    firstOpt = { dispatcher: first, fence };
  }
  const run = new LockedRun<FakeDispatcher>({
    lock: lock as unknown as DispatchLock,
    logger: createLogger({ level: 'debug', stream: log }),
    first: firstOpt,
    build: async (fence) => {
      const d = new FakeDispatcher(`built-${built.length + 1}`, fence, lock.events);
      built.push(d);
      return d;
    },
  });
  return { lock, run, built, first, log };
}

describe('dispatch lock supervisor (LockedRun, scripted lock)', () => {
  it('a fence refuses until bound to a tenure, and cannot be bound to a second one', () => {
    const fence = new TenureFence();
    assert.throws(() => fence.check({ Action: 'create' }), DispatchLockLostError);
    const e = new FakeEpoch();
    fence.bind(e);
    fence.check({ Action: 'create' });
    assert.throws(() => fence.bind(new FakeEpoch()), /already bound/);
    e.lose('lost');
    assert.throws(() => fence.check({ Action: 'create' }), DispatchLockLostError);
  });

  it('the first dispatcher starts only once the lock is held, and may act then', async () => {
    const { lock, run, first, built } = setup(true);
    await tick();
    assert.equal(first!.started, 0, 'not started before the lock is held');
    assert.equal(first!.mayAct(), false);
    assert.equal(run.current(), undefined);
    lock.grant();
    await tick();
    assert.equal(first!.started, 1);
    assert.equal(first!.mayAct(), true);
    assert.equal(run.current(), first);
    assert.equal(built.length, 0, 'the dispatcher built before the lock is the one used in the first tenure');
    await run.stop();
  });

  it('a lost lock stops that tenure\'s dispatcher, its fence closed for good; a fresh dispatcher with a fresh fence runs once the lock is held again', async () => {
    const { lock, run, first, built, log } = setup(true);
    await tick();
    const e1 = lock.grant();
    await tick();
    assert.equal(first!.mayAct(), true);

    e1.lose('connection closed');
    await tick();
    assert.equal(first!.mayAct(), false, 'the old tenure\'s fence refuses');
    assert.equal(first!.stopped, 1, 'the old dispatcher is stopped, not left running beside the next');
    assert.equal(run.current(), undefined, 'no dispatcher while the lock is not held');
    assert.ok(lock.acquiring, 'the lock is being taken again');
    assert.match(log.lines.join('\n'), /dispatch lock lost/);

    lock.grant();
    await tick();
    assert.equal(built.length, 1, 'a fresh dispatcher is built for the new tenure');
    const second = built[0];
    assert.notEqual(second.fence, first!.fence, 'with a fence of its own');
    assert.equal(second.started, 1);
    assert.equal(second.mayAct(), true);
    assert.equal(first!.mayAct(), false, 'the old fence stays closed in the new tenure');
    assert.equal(first!.started, 1, 'the old dispatcher is never started again');
    assert.equal(run.current(), second);
    assert.deepEqual(lock.events, ['acquire', 'start first', 'stop first', 'acquire', 'start built-1']);
    await run.stop();
  });

  it('stop stops the dispatcher first, then releases the lock', async () => {
    const { lock, run, first } = setup(true);
    await tick();
    lock.grant();
    await tick();
    await run.stop();
    assert.deepEqual(lock.events, ['acquire', 'start first', 'stop first', 'release']);
    assert.equal(first!.mayAct(), false);
    assert.equal(run.current(), undefined);
  });

  it('stop while waiting for the lock stops the first dispatcher (never started) and releases, without building another', async () => {
    const { lock, run, first, built } = setup(true);
    await tick();
    assert.ok(lock.acquiring);
    await run.stop();
    assert.equal(first!.started, 0);
    assert.equal(first!.stopped, 1, 'the dispatcher built before the lock is stopped too (its timers, connections)');
    assert.equal(built.length, 0);
    assert.deepEqual(lock.events, ['acquire', 'stop first', 'release']);
    await run.finished;
  });

  it('stop while waiting to take the lock again after a loss builds no dispatcher', async () => {
    const { lock, run, built } = setup(false);
    await tick();
    const e1 = lock.grant();
    await tick();
    assert.equal(built.length, 1);
    e1.lose('lost');
    await tick();
    assert.ok(lock.acquiring);
    await run.stop();
    assert.equal(built.length, 1);
    assert.equal(built[0].stopped, 1);
    assert.deepEqual(lock.events, ['acquire', 'start built-1', 'stop built-1', 'acquire', 'release']);
  });
});
