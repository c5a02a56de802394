/**
 * Create throttling: MaxConcurrentInstanceCreateOps, MaxInstances, and what
 * quota, capacity, rate-limit and other create errors do to later creates.
 */
import assert from 'node:assert/strict';
import { CapacityError, QuotaError, RateLimitError } from '../../src/cloud/errors.js';
import { Harness, LARGE, SMALL } from './helpers.js';
import { CREATE_ERROR_BACKOFF_MS } from '../../src/worker/pool-config.js';
import { loadConfigText } from '../../src/config/load.js';
import { ManualClock } from '../../src/clock/manual.js';
import { CreateLimits } from '../../src/worker/throttle.js';

describe('worker pool: create throttling', function () {
  this.timeout(20_000);
  let h: Harness;

  afterEach(async () => {
    await h?.stop();
  });

  async function started(cloudVMs: Parameters<typeof Harness.start>[0] = {}): Promise<void> {
    h = await Harness.start({ controller: false, ...cloudVMs });
    h.pool.start();
    await h.tick(0);
  }

  it('secret line precedes InstanceInitCommand: an init command that exits still leaves the secret on the VM', async () => {
    await started({ cloudVMs: { InstanceInitCommand: 'exit 0' } });
    const id = await h.createIdle(SMALL);
    const vm = h.cloud.listVMs().find((v) => v.id === id)!;
    assert.equal(vm.initCommand, `umask 0177 && echo -n "${vm.tags.ArvadosInstanceSecret}" >/var/run/arvados-instance-secret\nexit 0`);
    assert.equal(vm.files.get('/var/run/arvados-instance-secret')?.toString(), vm.tags.ArvadosInstanceSecret);
    assert.equal(h.pool.detail(id)?.workerState, 'idle');
  });

  it('keeps at most MaxConcurrentInstanceCreateOps creates in flight; pending creates show as booting', async () => {
    await started({ cloudVMs: { MaxConcurrentInstanceCreateOps: 2 } });
    h.cloud.holdCreates();
    const a = h.pool.create(SMALL);
    const b = h.pool.create(LARGE);
    assert.ok(a && b);
    assert.notEqual(a.instance, b.instance);
    assert.equal(h.pool.create(SMALL), undefined, 'third declined');
    assert.equal(h.pool.createBlocker(SMALL), 'reached MaxConcurrentInstanceCreateOps');
    assert.deepEqual(
      h.pool.instances().map((v) => [v.instance, v.workerState, v.arvadosInstanceType]),
      [
        [a.instance, 'booting', 'small'],
        [b.instance, 'booting', 'large'],
      ],
    );
    assert.equal(h.pool.countWorkers().booting, 2);
    assert.deepEqual(
      h.pool.apiInstances().map((v) => [v.instance, v.arvadosInstanceType, v.workerState]),
      [
        ['', 'large', 'booting'],
        ['', 'small', 'booting'],
      ],
      'the management API lists creates in flight with no id, ordered by instance type as the reference does',
    );
    assert.equal(h.pool.atQuota(), false);
    h.cloud.releaseCreates();
    await h.tick(0);
    assert.deepEqual(
      h.pool.instances().map((v) => v.workerState),
      ['booting', 'booting'],
    );
    assert.ok(h.pool.instances().every((v) => v.instance.startsWith('lame-')));
    assert.ok(h.pool.create(SMALL), 'accepted again once the creates returned');
  });

  it('counts booting and pending instances against MaxInstances, and is at quota there', async () => {
    await started({ params: { DestroyDelay: 0 }, cloudVMs: { MaxInstances: 2, MaxConcurrentInstanceCreateOps: 0 } });
    h.cloud.holdCreates();
    assert.ok(h.pool.create(SMALL));
    assert.equal(h.pool.atQuota(), false);
    assert.ok(h.pool.create(SMALL));
    assert.equal(h.pool.atQuota(), true);
    assert.equal(h.pool.create(SMALL), undefined);
    h.cloud.releaseCreates();
    await h.tick(0);
    assert.equal(h.pool.atQuota(), true, 'two booting instances');
    const [first] = h.pool.instances();
    h.pool.killInstance(first.instance, 'test');
    await h.tick(0);
    assert.equal(h.pool.atQuota(), true, 'a VM being destroyed counts until a listing drops it');
    await h.tick(h.cluster.Containers.CloudVMs.SyncInterval);
    assert.equal(h.pool.atQuota(), false, 'one went away');
    assert.ok(h.pool.create(SMALL));
  });

  it('a negative MaxConcurrentInstanceCreateOps or MaxInstances in the config file limits nothing, as 0', async () => {
    const vms = loadConfigText('Clusters:\n  zzzzz:\n    Containers:\n      CloudVMs: {MaxConcurrentInstanceCreateOps: -1, MaxInstances: -1}\n').cluster.Containers.CloudVMs;
    await started({ cloudVMs: { MaxConcurrentInstanceCreateOps: vms.MaxConcurrentInstanceCreateOps, MaxInstances: vms.MaxInstances } });
    h.cloud.holdCreates();
    for (let i = 0; i < 65; i++) assert.ok(h.pool.create(SMALL), `create ${i + 1} of 65, all in flight at once`);
    assert.equal(h.pool.atQuota(), false);
    h.cloud.releaseCreates();
    await h.tick(0);
  });

  it('tells subscribers when a create answers, with its instance or with an error', async () => {
    await started({ cloudVMs: { MaxConcurrentInstanceCreateOps: 0 } });
    let notified = 0;
    h.pool.subscribe(() => notified++);
    h.cloud.holdCreates();
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    notified = 0;
    h.cloud.releaseCreates();
    await h.tick(0);
    const created = h.pool.instances().filter((v) => !v.instance.startsWith('pending-'));
    assert.equal(created.length, 1, 'the create answered with its instance');
    assert.ok(notified > 0, 'subscribers hear that the pending create is an instance now');

    h.cloud.holdCreates();
    h.cloud.failNextCreate(new Error('the cloud said no'));
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    notified = 0;
    h.cloud.releaseCreates();
    await h.tick(0);
    assert.equal(h.pool.instances().filter((v) => v.instance.startsWith('pending-')).length, 0, 'the failed create is dropped');
    assert.ok(notified > 0, 'subscribers hear that the pending create is gone');
  });

  it('a create that fails after stop() leaves no hold, timer or error line behind', async () => {
    await started();
    h.cloud.holdCreates();
    h.cloud.failNextCreate(new QuotaError('too many instances'));
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    h.pool.stop();
    const timers = h.clock.pendingTimers();
    h.cloud.releaseCreates();
    await h.tick(0);
    assert.equal(h.clock.pendingTimers(), timers, 'no quota timer set by a stopped pool');
    assert.equal(h.logs.records().filter((r) => String(r.msg).startsWith('create failed')).length, 0, 'no error logged by a stopped pool');
  });

  it('a create that answers after stop() adds no worker to the stopped pool (the next pool adopts the VM)', async () => {
    await started();
    h.cloud.holdCreates();
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    h.pool.stop();
    h.cloud.releaseCreates();
    await h.tick(0);
    assert.equal(h.cloud.listVMs().length, 1, 'the VM exists');
    assert.deepEqual(h.pool.details(), [], 'but the stopped pool does not track it');
    const pool = await h.build();
    pool.start();
    await h.tick(0);
    assert.equal(pool.details().length, 1, 'the next pool adopts it');
  });

  it('QuotaError with no instances: at quota for a minute, then creates again (and notifies)', async () => {
    await started();
    let notified = 0;
    h.pool.subscribe(() => notified++);
    h.cloud.failNextCreate(new QuotaError('too many instances'));
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    assert.deepEqual(h.pool.instances(), [], 'the failed create is dropped');
    assert.equal(h.pool.atQuota(), true);
    assert.equal(h.pool.create(LARGE), undefined);
    await h.tick(59_000);
    assert.equal(h.pool.atQuota(), true);
    notified = 0;
    await h.tick(1000);
    assert.equal(h.pool.atQuota(), false);
    assert.ok(notified > 0, 'subscribers hear that the quota hold ended');
    assert.ok(h.pool.create(SMALL));
  });

  /** Two idle workers, then a create that fails with a QuotaError: at quota. Returns the two workers' ids. */
  async function quotaErrorWithTwoRunning(): Promise<string[]> {
    const ids = [await h.createIdle(), await h.createIdle()];
    h.cloud.failNextCreate(new QuotaError('too many instances'));
    assert.ok(h.pool.create(SMALL), 'the pool tries the create');
    await h.tick(0);
    assert.equal(h.pool.atQuota(), true, 'the quota error holds creates');
    return ids;
  }

  it('QuotaError with instances running: at quota until one goes away', async () => {
    await started({ params: { DestroyDelay: 0 }, cloudVMs: { TimeoutIdle: 3_600_000 } });
    const [a] = await quotaErrorWithTwoRunning();
    await h.tick(10_000);
    assert.equal(h.pool.atQuota(), true);
    h.pool.killInstance(a, 'make room');
    await h.tick(0);
    assert.equal(h.pool.atQuota(), true, 'a VM being destroyed still holds its quota');
    await h.tick(h.cluster.Containers.CloudVMs.SyncInterval);
    assert.equal(h.pool.atQuota(), false, 'the listing shows an instance went away: try again at once');
  });

  it('QuotaError with instances running and none going away: at quota for a minute at most, as the quota may be shared', async () => {
    await started({ cloudVMs: { TimeoutIdle: 3_600_000 } });
    await quotaErrorWithTwoRunning();
    await h.tick(59_000);
    assert.equal(h.pool.atQuota(), true, 'still held before the minute is up');
    assert.equal(h.pool.instances().length, 2, 'no instance went away');
    await h.tick(1000);
    assert.equal(h.pool.atQuota(), false, 'the hold ends after a minute although no instance went away');
    assert.ok(h.pool.create(SMALL), 'creates again');
  });

  it('CapacityError for a type: only that type is at capacity, for a minute', async () => {
    await started();
    h.cloud.failNextCreate(new CapacityError('no small ones', { instanceType: SMALL.ProviderType }));
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    assert.equal(h.pool.atCapacity(SMALL), true);
    assert.equal(h.pool.atCapacity(LARGE), false);
    assert.equal(h.pool.atQuota(), false);
    assert.equal(h.pool.create(SMALL), undefined);
    assert.ok(h.pool.create(LARGE), 'another type is fine');
    await h.tick(60_000);
    assert.equal(h.pool.atCapacity(SMALL), false);
    assert.ok(h.pool.create(SMALL));
  });

  it('CapacityError for a quota group marks the group; without type or group, every type', async () => {
    await started();
    h.cloud.failNextCreate(new CapacityError('vcpu limit for family', { quotaGroup: 'standard' }));
    h.pool.create(SMALL);
    await h.tick(0);
    assert.equal(h.pool.atCapacity(SMALL), true, 'the failed type is in the group');
    assert.equal(h.pool.atCapacity(LARGE), false, 'a type never seen failing is not known to be in it');
    await h.tick(60_000);
    assert.equal(h.pool.atCapacity(SMALL), false);

    h.cloud.failNextCreate(new CapacityError('out of everything'));
    h.pool.create(SMALL);
    await h.tick(0);
    assert.equal(h.pool.atCapacity(SMALL), true);
    assert.equal(h.pool.atCapacity(LARGE), true);
    await h.tick(60_000);
    assert.equal(h.pool.atCapacity(LARGE), false);
  });

  it('RateLimitError: no create until its earliest retry time', async () => {
    await started();
    h.cloud.failNextCreate(new RateLimitError('slow down', h.clock.now() + 30_000));
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    assert.equal(h.pool.create(SMALL), undefined);
    assert.match(h.pool.createBlocker(SMALL) ?? '', /rate limit/);
    assert.equal(h.pool.atQuota(), false);
    await h.tick(29_000);
    assert.equal(h.pool.create(SMALL), undefined);
    await h.tick(1000);
    assert.ok(h.pool.create(SMALL));
  });

  it('a create rate limit does not hold destroy or SetTags: an idle VM still goes, a hold is still tagged', async () => {
    await started({ params: { DestroyDelay: 0 }, cloudVMs: { TimeoutIdle: 3_600_000 } });
    const held = await h.createIdle();
    const idle = await h.createIdle();
    h.cloud.failNextCreate(new RateLimitError('slow down', h.clock.now() + 600_000));
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    assert.match(h.pool.createBlocker(SMALL) ?? '', /rate limit/);
    const before = h.cloud.callCounts();
    await h.pool.setIdleBehavior(held, 'hold');
    h.pool.killInstance(idle, 'no longer needed');
    await h.tick(0);
    const after = h.cloud.callCounts();
    assert.equal(after.setTags, before.setTags + 1);
    assert.equal(after.destroy, before.destroy + 1);
    assert.equal(h.cloud.vm(held)?.tags.ArvadosIdleBehavior, 'hold');
  });

  it('other errors: the create is dropped, creates pause CREATE_ERROR_BACKOFF_MS, and the error is logged (rate-limited)', async () => {
    await started();
    for (let i = 0; i < 3; i++) {
      h.cloud.failNextCreate(new Error('provider fell over'));
      assert.ok(h.pool.create(SMALL), `attempt ${i}`);
      await h.tick(0);
      assert.deepEqual(h.pool.instances(), []);
      assert.equal(h.pool.create(SMALL), undefined, 'backing off');
      await h.tick(CREATE_ERROR_BACKOFF_MS - 1);
      assert.equal(h.pool.create(SMALL), undefined, 'still backing off');
      await h.tick(1);
    }
    const logged = h.logs.records().filter((r) => r.msg === 'create failed');
    assert.equal(logged.length, 1, 'repeats within a minute are held back');
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    assert.equal(h.only().workerState, 'booting');
  });

  it('a create error\'s short back-off never shortens a longer rate-limit hold', async () => {
    await started({ cloudVMs: { MaxConcurrentInstanceCreateOps: 2 } });
    h.cloud.holdCreates();
    h.cloud.failNextCreate(new RateLimitError('slow down', h.clock.now() + 60_000));
    h.cloud.failNextCreate(new Error('provider fell over'));
    assert.ok(h.pool.create(SMALL));
    assert.ok(h.pool.create(LARGE));
    h.cloud.releaseCreates();
    await h.tick(0);
    assert.deepEqual(h.pool.instances(), [], 'both creates failed: first rate-limited, then a plain error');
    await h.tick(CREATE_ERROR_BACKOFF_MS + 1000);
    assert.match(h.pool.createBlocker(SMALL) ?? '', /rate limit/, 'the cloud asked for 60 s, not the 1 s create-error back-off');
    assert.equal(h.pool.create(SMALL), undefined);
    await h.tick(60_000 - CREATE_ERROR_BACKOFF_MS - 1000);
    assert.ok(h.pool.create(SMALL), 'creates again at the earliest retry time');
  });

  it('an error of two kinds at once sets both holds, and a rate limit inside any failure suspends creates (as the reference checks each kind alone)', async () => {
    await started();
    h.cloud.failNextCreate(new AggregateError([new QuotaError('too many instances'), new CapacityError('no small ones', { instanceType: SMALL.ProviderType })], 'zone a and zone b'));
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    assert.equal(h.pool.atQuota(), true, 'the quota part holds every create');
    assert.equal(h.pool.atCapacity(SMALL), true, 'the capacity part marks its type as well');
    assert.equal(h.pool.atCapacity(LARGE), false);
    const line = h.logs.records().find((r) => String(r.msg).startsWith('create failed'));
    assert.equal(line?.msg, 'create failed: cloud quota reached; pausing creates; insufficient capacity');
    assert.equal(line?.isQuotaError, true);
    assert.equal(line?.isCapacityError, true);
    await h.tick(60_000);
    assert.equal(h.pool.atQuota(), false);
    assert.equal(h.pool.atCapacity(SMALL), false);

    h.cloud.failNextCreate(new QuotaError('too many instances', { cause: new RateLimitError('slow down', h.clock.now() + 120_000) }));
    assert.ok(h.pool.create(SMALL));
    await h.tick(0);
    await h.tick(60_000);
    assert.equal(h.pool.atQuota(), false, 'the quota hold with no instances lasts a minute');
    assert.equal(h.pool.create(SMALL), undefined, 'the rate limit in its cause still holds creates');
    assert.match(h.pool.createBlocker(SMALL) ?? '', /rate limit/);
    await h.tick(60_000);
    assert.ok(h.pool.create(SMALL), 'creates again at the earliest retry time');
  });
});

describe('create limits: the create hold', function () {
  it('a hold extended while in force wakes the scheduler once, when the later time comes', async () => {
    const clock = new ManualClock();
    let notified = 0;
    const limits = new CreateLimits({ clock, notify: () => notified++, maxInstances: 0 });
    limits.noteCreateError(10_000, 'boom');
    limits.noteRateLimit(new RateLimitError('slow down', clock.now() + 30_000));
    await clock.advance(10_000);
    assert.equal(notified, 0, 'the first hold\'s end is no longer the end');
    assert.equal(limits.createHold.active, true, 'held');
    assert.equal(limits.createHold.reason, 'cloud provider rate limit: slow down');
    await clock.advance(20_000);
    assert.equal(notified, 1, 'one wake-up at the rate limit\'s end');
    assert.equal(limits.createHold.active, false, 'not held');
    limits.stop();
  });
});

describe('create limits: cloud quota errors', function () {
  it('after quota errors at different instance counts, the quota lifts only below the lowest count', async () => {
    const clock = new ManualClock();
    const limits = new CreateLimits({ clock, notify: () => {}, maxInstances: 0 });
    limits.noteQuotaError(5, 'too many instances');
    await clock.advance(1000);
    limits.noteQuotaError(7, 'too many instances');
    assert.equal(limits.quotaErrorActive(6), true, 'the cloud refused a 6th instance: 6 is still too many');
    limits.noteInstanceCount(6);
    limits.noteInstanceCount(5);
    assert.equal(limits.quotaErrorActive(5), true, 'still not below 5');
    assert.equal(limits.quotaDetail(5)?.bucket, 'cloud quota');
    limits.noteInstanceCount(4);
    assert.equal(limits.quotaErrorActive(4), false, 'below the lowest count seen: lifted');
    limits.stop();
  });

  it('says whether a quota error sets a new or lower count to wait for, which the pool logs as the reference does, and not a count already waited for', async () => {
    const clock = new ManualClock();
    const limits = new CreateLimits({ clock, notify: () => {}, maxInstances: 0 });
    const lowered = (others: number): [number, boolean] => {
      const hold = limits.noteQuotaError(others, 'too many instances');
      return [hold.fewerThan, hold.lowered];
    };
    assert.deepEqual(lowered(5), [5, true], 'the first: new');
    assert.deepEqual(lowered(5), [5, false], 'the same count again');
    assert.deepEqual(lowered(7), [5, false], 'a higher count (instances were added meanwhile)');
    assert.deepEqual(lowered(4), [4, true], 'a lower one');
    await clock.advance(60_000);
    assert.deepEqual(lowered(6), [6, true], 'after the hold expired: new again');
    limits.noteInstanceCount(5);
    assert.deepEqual(lowered(6), [6, true], 'after the count went below it and lifted it: new again');
    limits.stop();
  });
});
