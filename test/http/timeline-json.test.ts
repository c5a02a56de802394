/** The timeline route's body from a stored timeline: the phases counted to the timeline's own clock, the dropped count. */
import assert from 'node:assert/strict';
import { timelineJSON } from '../../src/http/timeline-json.js';

const T0 = Date.UTC(2020, 0, 1);
const UUID = 'zzzzz-dz642-000000000000001';

describe('timelineJSON', () => {
  it("counts the open phase to the timeline's asOf (the dispatcher's clock), not the wall clock", () => {
    const j = timelineJSON(UUID, { events: [{ at: T0, kind: 'first_seen', detail: { state: 'Queued', priority: 1 } }], dropped: 0, asOf: T0 + 5000 });
    assert.deepEqual(j.phases, [{ phase: 'queued', from: '2020-01-01T00:00:00Z', to: null, duration_ms: 5000 }]);
  });

  it('says how many events were dropped to keep within the bound', () => {
    const j = timelineJSON(UUID, { events: [{ at: T0, kind: 'first_seen', detail: { state: 'Queued', priority: 1 } }], dropped: 3, asOf: T0 });
    assert.equal(j.dropped_events, 3);
  });
});
