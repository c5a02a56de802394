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

  it('says what the spending cap holds a container for: the burn against the level, whose, and which level', () => {
    const cap = { reason: 'spending_cap', position: 3, burn_per_hour: 40, cap_per_hour: 40 } as const;
    assert.equal(describeBlocker({ ...cap, level: 'hard', scope: 'cluster' }), 'spending cap: $40.00/h of $40.00/h in use');
    assert.equal(
      describeBlocker({ ...cap, level: 'soft', scope: 'owner', owner: 'zzzzz-tpzed-aaaaaaaaaaaaaaa', burn_per_hour: 12.5, cap_per_hour: 12 }),
      'spending cap: $12.50/h of $12.00/h in use by owner zzzzz-tpzed-aaaaaaaaaaaaaaa (soft level: new VMs only preemptible, for higher-priority work)',
    );
  });
});
