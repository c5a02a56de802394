/**
 * Where the gce driver finds Google's error reasons and messages: every shape
 * a client library may hand it, as object literals (create.test.ts covers the
 * shape the installed library produces, through the real SDK).
 */
import assert from 'node:assert/strict';
import { isQuotaError, isRateLimitError } from '../../../src/cloud/errors.js';
import { ManualClock } from '../../../src/clock/index.js';
import { classify, GceOperationError, messages, reasons, ThrottleBackoff } from '../../../drivers/gce/errors.js';

const body = (reason: string, message = `about ${reason}`) => ({ error: { code: 403, message, errors: [{ message, domain: 'global', reason }] } });

/** What a GaxiosError carries besides its message: a status and, in some versions, the parsed body. */
const apiError = (message: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(message), { status: 403 }, extra);

describe('gce errors: reasons and messages', () => {
  it('reads the body from the message text (gaxios 7 with a streamed body)', () => {
    const err = apiError(JSON.stringify(body('quotaExceeded', "Quota 'CPUS' exceeded.")));
    assert.deepEqual(reasons(err), ['quotaExceeded']);
    assert.ok(messages(err).includes("Quota 'CPUS' exceeded."));
  });

  it('reads the body from response.data as an object', () => {
    const err = apiError('Request failed with status code 403', { response: { status: 403, data: body('rateLimitExceeded') } });
    assert.deepEqual(reasons(err), ['rateLimitExceeded']);
    assert.ok(messages(err).includes('about rateLimitExceeded'));
  });

  it('reads the body from response.data as JSON text', () => {
    const err = apiError('Request failed with status code 403', { response: { status: 403, data: JSON.stringify(body('quotaExceeded')) } });
    assert.deepEqual(reasons(err), ['quotaExceeded']);
  });

  it("reads an errors list on the cause (gaxios's error info when it parsed the body)", () => {
    const info = { message: 'some message', code: 403, status: 'PERMISSION_DENIED', errors: body('userRateLimitExceeded').error.errors };
    const err = apiError('some message', { cause: info });
    assert.deepEqual(reasons(err), ['userRateLimitExceeded']);
    assert.ok(messages(err).includes('about userRateLimitExceeded'));
  });

  it('reads reason and errors on the error itself', () => {
    assert.deepEqual(reasons(Object.assign(new Error('x'), { reason: 'notFound' })), ['notFound']);
    assert.deepEqual(reasons(Object.assign(new Error('x'), { errors: [{ reason: 'invalid' }] })), ['invalid']);
  });

  it('names a reason found in several places once', () => {
    const text = JSON.stringify(body('quotaExceeded'));
    const err = apiError(text, { response: { status: 403, data: body('quotaExceeded') }, cause: { message: text, errors: body('quotaExceeded').error.errors } });
    assert.deepEqual(reasons(err), ['quotaExceeded']);
  });

  it('finds nothing in text that is not a Google error body, and does not throw on it', () => {
    for (const data of ['<html>', '{"error": {', '{"error": "nope"}', 42, null, ['x']]) {
      const err = apiError('{not json', { response: { status: 403, data }, cause: { errors: 'x' } });
      assert.deepEqual(reasons(err), [], JSON.stringify(data));
    }
    assert.deepEqual(reasons(undefined), []);
    assert.deepEqual(reasons('quotaExceeded'), []);
  });

  it("an operation error's reasons are its codes", () => {
    assert.deepEqual(reasons(new GceOperationError('failed', ['QUOTA_EXCEEDED'])), ['QUOTA_EXCEEDED']);
  });

  it('classify sees reasons in each shape', () => {
    const ctx = () => ({ clock: new ManualClock(), backoff: new ThrottleBackoff(), what: 'insert' });
    const fromData = apiError('Request failed', { response: { status: 403, data: body('quotaExceeded') } });
    const fromCause = apiError('Request failed', { cause: { errors: [{ reason: 'rateLimitExceeded' }] } });
    assert.ok(isQuotaError(classify(fromData, ctx())));
    assert.ok(isRateLimitError(classify(fromCause, ctx())));
  });
});
