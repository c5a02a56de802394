/** `containers why` rendering: which lines appear and what their figures count from. */
import assert from 'node:assert/strict';
import { formatWhy, type WhyItem } from '../../src/admin/why-format.js';

const NOW = Date.UTC(2026, 0, 1, 12);
const MIN = 60_000;
const iso = (ms: number): string => new Date(ms).toISOString();

const ITEM: WhyItem = {
  container: { uuid: 'zzzzz-dz642-000000000000001', state: 'Locked', priority: 1 },
  scheduling_status: 'waiting for a new instance',
};

describe('formatWhy', () => {
  it('says nothing of what is ahead when no container is', () => {
    const item: WhyItem = { ...ITEM, blocker: { reason: 'quota', position: 0, bucket: 'MaxInstances', in_use: 5, limit: 5, ahead: { containers: 0, vcpus: 0, ram_bytes: 0 } } };
    const text = formatWhy(item, undefined, NOW);
    assert.match(text, /\n {2}why: /);
    assert.doesNotMatch(text, /ahead:/);
  });

  it('gives the estimate as a time from now, with its range', () => {
    const item: WhyItem = { ...ITEM, estimate: { start_low: iso(NOW + 3 * MIN), start_typical: iso(NOW + 5 * MIN), start_high: iso(NOW + 10 * MIN) } };
    assert.match(formatWhy(item, undefined, NOW), /\n {2}estimate: starts in about 5 min \(between 3 min and 10 min\)\n/);
  });

  it('leaves the range out when its ends read the same', () => {
    const item: WhyItem = { ...ITEM, estimate: { start_low: iso(NOW + 5 * MIN), start_typical: iso(NOW + 5 * MIN), start_high: iso(NOW + 5 * MIN + 10_000) } };
    assert.match(formatWhy(item, undefined, NOW), /\n {2}estimate: starts in about 5 min\n/);
  });

  it('times each timeline event from the one before it', () => {
    const timeline = {
      events: [
        { at: iso(NOW), kind: 'first_seen' },
        { at: iso(NOW + MIN), kind: 'locked' },
        { at: iso(NOW + 3 * MIN), kind: 'vm_requested', instance_type: 'small' },
      ],
    };
    const lines = formatWhy(ITEM, timeline, NOW).trimEnd().split('\n');
    assert.deepEqual(lines.slice(-3).map((l) => l.trim().split(/\s{2,}/)), [
      ['12:00:00', 'first_seen'],
      ['12:01:00', '+60 s', 'locked'],
      ['12:03:00', '+2 min', 'vm_requested', 'instance_type=small'],
    ]);
  });
});
