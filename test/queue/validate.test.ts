/**
 * The checks on container records the queue takes in (`src/queue/validate.ts`),
 * one record at a time: what each kind of answer must be before anything acts on it.
 */
import assert from 'node:assert/strict';
import { detailsProblem, listedProblem, replyProblem } from '../../src/queue/validate.js';
import { detailsRecord as details } from './helpers.js';

const A = 'zzzzz-dz642-000000000000001';
const B = 'zzzzz-dz642-000000000000002';

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

  it('takes a record without lock_count (an old controller), but not one with a bad lock_count, in a list item or an answer', () => {
    assert.equal(listedProblem({ uuid: A, state: 'Queued', priority: 1, locked_by_uuid: null, lock_count: 3 }), undefined);
    assert.equal(replyProblem({ uuid: A, state: 'Locked', lock_count: 0 }, A), undefined);
    for (const bad of ['x', -1, 1.5]) {
      assert.equal(listedProblem({ uuid: A, state: 'Queued', priority: 1, lock_count: bad })?.field, 'lock_count', JSON.stringify(bad));
      assert.equal(replyProblem({ uuid: A, state: 'Locked', lock_count: bad }, A)?.field, 'lock_count', JSON.stringify(bad));
    }
  });
});
