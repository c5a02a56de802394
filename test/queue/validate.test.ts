/**
 * The checks on container records the queue takes in (`src/queue/validate.ts`),
 * one record at a time: what each kind of answer must be before anything acts on it.
 */
import assert from 'node:assert/strict';
import { detailsProblem, listedProblem, replyProblem } from '../../src/queue/validate.js';

const A = 'zzzzz-dz642-000000000000001';
const B = 'zzzzz-dz642-000000000000002';

function details(uuid: string): Record<string, unknown> {
  return {
    uuid,
    state: 'Queued',
    priority: 1,
    locked_by_uuid: null,
    runtime_constraints: { vcpus: 1, ram: 2 ** 30 },
    container_image: 'd41d8cd98f00b204e9800998ecf8427e+0',
    scheduling_parameters: {},
    created_at: '2026-01-01T00:00:00Z',
    mounts: {},
  };
}

describe('container records the queue takes in', () => {
  it("refuses a details read answered with another container's record", () => {
    assert.equal(detailsProblem(details(A), A), undefined);
    // A proxy or cache that mixes up answers: taking it would give A the constraints (and uuid) of B.
    assert.deepEqual(detailsProblem(details(B), A)?.field, 'uuid');
  });

  it('takes a lock or unlock answer without a priority (the controller may leave it out), but not one with a bad priority', () => {
    assert.equal(replyProblem({ uuid: A, state: 'Locked', locked_by_uuid: 'zzzzz-gj3su-000000000000000' }, A), undefined);
    assert.equal(replyProblem({ uuid: A, state: 'Locked', priority: -1, locked_by_uuid: 'zzzzz-gj3su-000000000000000' }, A)?.field, 'priority');
  });

  it('refuses a list item with a negative priority', () => {
    assert.equal(listedProblem({ uuid: A, state: 'Queued', priority: 0, locked_by_uuid: null }), undefined);
    assert.equal(listedProblem({ uuid: A, state: 'Queued', priority: -1, locked_by_uuid: null })?.field, 'priority');
  });
});
