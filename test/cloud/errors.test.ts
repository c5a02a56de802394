import assert from 'node:assert/strict';
import {
  CapacityError,
  HostKeyVerificationNotImplemented,
  QuotaError,
  RateLimitError,
  asCapacityError,
  asRateLimitError,
  isCapacityError,
  isHostKeyVerificationNotImplemented,
  isQuotaError,
  isRateLimitError,
} from '../../src/cloud/errors.js';

describe('cloud error classes', () => {
  it('guards recognise each class and no other', () => {
    const rl = new RateLimitError('slow down', 12345);
    const q = new QuotaError('no more');
    const c = new CapacityError('none left', { instanceType: 'm5.large' });
    assert.ok(isRateLimitError(rl) && !isQuotaError(rl) && !isCapacityError(rl));
    assert.ok(isQuotaError(q) && !isRateLimitError(q) && !isCapacityError(q));
    assert.ok(isCapacityError(c) && !isRateLimitError(c) && !isQuotaError(c));
    assert.ok(!isRateLimitError(new Error('x')) && !isRateLimitError(undefined) && !isRateLimitError('str'));
    assert.ok(isHostKeyVerificationNotImplemented(new HostKeyVerificationNotImplemented()));
  });

  it('guards look through cause chains and aggregate errors', () => {
    const inner = new RateLimitError('throttled', 999);
    const wrapped = new Error('create failed', { cause: new Error('driver', { cause: inner }) });
    assert.ok(isRateLimitError(wrapped));
    assert.equal(asRateLimitError(wrapped)?.earliestRetry, 999);
    const agg = new AggregateError([new Error('a'), new CapacityError('b', { quotaGroup: 'standard' })]);
    assert.equal(asCapacityError(agg)?.quotaGroup, 'standard');
  });

  it('CapacityError says whether it is type- or quota-group-specific', () => {
    const t = new CapacityError('x', { instanceType: 'c5.xlarge' });
    const g = new CapacityError('x', { quotaGroup: 'c' });
    const all = new CapacityError('x');
    assert.deepEqual([t.isInstanceTypeSpecific, t.isQuotaGroupSpecific], [true, false]);
    assert.deepEqual([g.isInstanceTypeSpecific, g.isQuotaGroupSpecific], [false, true]);
    assert.deepEqual([all.isInstanceTypeSpecific, all.isQuotaGroupSpecific], [false, false]);
    assert.equal(t.name, 'CapacityError');
  });

  it('keeps the provider error as cause', () => {
    const provider = new Error('InsufficientInstanceCapacity');
    const e = new CapacityError('out of m5.large', { cause: provider, instanceType: 'm5.large' });
    assert.equal(e.cause, provider);
  });
});
