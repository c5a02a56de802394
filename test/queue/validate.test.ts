/**
 * The checks on container records the queue takes in (`src/queue/validate.ts`),
 * one record at a time: what each kind of answer must be before anything acts on it.
 */
import assert from 'node:assert/strict';
import { detailsProblem, listedFields, listedProblem, lockCountOf, replyProblem } from '../../src/queue/validate.js';
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

  it('takes a record without lock_count (an old controller) or with a bad one, in a list item or an answer, and keeps only a well-formed count', () => {
    assert.equal(listedProblem({ uuid: A, state: 'Queued', priority: 1, locked_by_uuid: null, lock_count: 3 }), undefined);
    assert.equal(replyProblem({ uuid: A, state: 'Locked', lock_count: 0 }, A), undefined);
    assert.equal(listedFields({ uuid: A, state: 'Queued', priority: 1, lock_count: 3 }).lock_count, 3);
    for (const bad of ['x', -1, 1.5, null]) {
      assert.equal(listedProblem({ uuid: A, state: 'Queued', priority: 1, lock_count: bad }), undefined, JSON.stringify(bad));
      assert.equal(replyProblem({ uuid: A, state: 'Locked', lock_count: bad }, A), undefined, JSON.stringify(bad));
      assert.ok(!('lock_count' in listedFields({ uuid: A, state: 'Queued', priority: 1, lock_count: bad } as never)), JSON.stringify(bad));
      assert.equal(lockCountOf(bad), undefined);
    }
  });
});
