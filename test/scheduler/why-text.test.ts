import assert from 'node:assert/strict';
import { describeBlocker, estimateSentence, span } from '../../src/scheduler/why-text.js';

const MIN = 60_000;

describe('why in words', () => {
  it('says when a container should start, in minutes, then hours', () => {
    const now = 1_000_000;
    assert.equal(estimateSentence(now, now + 10_000, now + 50_000), 'Estimated start in less than a minute.');
    assert.equal(estimateSentence(now, now + 4 * MIN, now + 9 * MIN), 'Estimated start in 4-9 minutes.');
    assert.equal(estimateSentence(now, now + 20_000, now + 70_000), 'Estimated start in about 1 minute.');
    assert.equal(estimateSentence(now, now - 5 * MIN, now + 3 * MIN), 'Estimated start in 1-3 minutes.', 'a low bound already past counts from now');
    assert.equal(estimateSentence(now, now + 90 * MIN, now + 200 * MIN), 'Estimated start in 2-3 hours.');
    assert.equal(estimateSentence(now, now + 3 * 60 * MIN, now + 3 * 60 * MIN), 'Estimated start in about 3 hours.');
  });

  it('spans in seconds, minutes and hours', () => {
    assert.deepEqual([span(40_000), span(6 * MIN), span(150 * MIN)], ['40 s', '6 min', '2.5 h']);
  });

  it('says each of the reference\'s waits in a sentence with its facts: priority 0, the runner cap, the concurrency limit, locking, a previous attempt', () => {
    const t = '2026-01-01T10:20:30.000Z';
    assert.equal(
      describeBlocker({ reason: 'priority_zero', state: 'Locked' }),
      'priority is 0 (state Locked): it will not be scheduled until someone wants it',
    );
    assert.equal(
      describeBlocker({ reason: 'supervisor_cap', position: 3, cap: 2, running: 2 }),
      'workflow runner cap reached: 2 of 2 running (SupervisorFraction of MaxInstances); position 3 among waiting runners',
    );
    assert.equal(
      describeBlocker({ reason: 'concurrency_limit', position: 1, limit: 8, running: 8, controller: 'normal' }),
      'concurrency limit reached: 8 of 8 containers running or starting',
      'no controller state while it is normal, and no 503 never seen',
    );
    assert.equal(
      describeBlocker({ reason: 'concurrency_limit', position: 1, limit: 4, running: 5, controller: 'overload', last_503: t }),
      'concurrency limit reached: 5 of 4 containers running or starting (controller overload); last 503 from the controller at 10:20:30',
    );
    assert.equal(describeBlocker({ reason: 'locking', instance: 'i-1' }), 'being locked; it will start on i-1');
    assert.equal(describeBlocker({ reason: 'locking' }), 'being locked');
    assert.equal(describeBlocker({ reason: 'previous_attempt', instance: 'i-2' }), 'waiting for the crunch-run of a previous attempt to exit on i-2');
    assert.equal(describeBlocker({ reason: 'previous_attempt' }), 'waiting for the crunch-run of a previous attempt to exit');
  });

  it('says what stops a new instance: MaxInstances, the cloud\'s quota with its times and error, a declined create, or only room', () => {
    assert.equal(describeBlocker({ reason: 'quota', position: 2, bucket: 'MaxInstances', in_use: 10, limit: 10 }), 'at MaxInstances: 10 of 10 instances');
    assert.equal(
      describeBlocker({ reason: 'quota', position: 2, bucket: 'cloud quota', in_use: 7, since: '2026-01-01T10:00:00Z', until: '2026-01-01T10:01:00Z', error: 'VcpuLimitExceeded' }),
      "at the cloud's quota with 7 instances since 10:00:00 (retry at 10:01:00): VcpuLimitExceeded",
    );
    assert.equal(
      describeBlocker({ reason: 'create_declined', position: 1, why: 'cloud provider rate limit: RequestLimitExceeded', until: '2026-01-01T10:00:05Z' }),
      'no instance can be created now: cloud provider rate limit: RequestLimitExceeded (until 10:00:05)',
    );
    assert.equal(describeBlocker({ reason: 'cluster_capacity', position: 4 }), 'waiting for room on the cluster');
  });

  it('says what the spending cap holds a container for: the burn against the level, whose, and which level', () => {
    const cap = { reason: 'spending_cap', position: 3, burn_per_hour: 40, cap_per_hour: 40 } as const;
    assert.equal(describeBlocker({ ...cap, level: 'hard', scope: 'cluster' }), 'spending cap: $40.00/h of $40.00/h in use');
    assert.equal(
      describeBlocker({ ...cap, level: 'soft', scope: 'owner', owner: 'zzzzz-tpzed-aaaaaaaaaaaaaaa', burn_per_hour: 12.5, cap_per_hour: 12 }),
      'spending cap: $12.50/h of $12.00/h in use by owner zzzzz-tpzed-aaaaaaaaaaaaaaa (soft level: new VMs only preemptible, for higher-priority work)',
    );
  });
});
