/**
 * Where the gce driver finds Google's error reasons and messages: every shape
 * a client library may hand it, as object literals (create.test.ts covers the
 * shape the installed library produces, through the real SDK).
 */
import assert from 'node:assert/strict';
import { asCapacityError, isQuotaError, isRateLimitError } from '../../../src/cloud/errors.js';
import { ManualClock } from '../../../src/clock/index.js';
import { classify, GceOperationError, isZoneUnsupported, messages, reasons, ThrottleBackoff } from '../../../drivers/gce/errors.js';

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

describe('gce errors: a zone that lacks what the insert names', () => {
  const Z = 'us-central1-f';
  const google = (status: number, reason: string, message: string) =>
    Object.assign(new Error(JSON.stringify({ error: { code: status, message, errors: [{ message, domain: 'global', reason }] } })), { status });
  const missingType = `Invalid value for field 'resource.machineType': 'zones/${Z}/machineTypes/a2-highgpu-1g'. Machine type with name 'a2-highgpu-1g' does not exist in zone '${Z}'.`;

  it("is a 400 or 404 naming this zone's machine, accelerator or disk type, or saying it does not exist in this zone", () => {
    assert.ok(isZoneUnsupported(google(400, 'invalid', missingType), Z));
    for (const kind of ['machineTypes/a2-highgpu-1g', 'acceleratorTypes/nvidia-tesla-t4', 'diskTypes/hyperdisk-balanced']) {
      assert.ok(isZoneUnsupported(google(404, 'notFound', `The resource 'projects/p/zones/${Z}/${kind}' was not found`), Z), kind);
    }
    assert.ok(isZoneUnsupported(google(400, 'invalid', `Accelerator type 'nvidia-h100-80gb' does not exist in zone '${Z}'.`), Z));
    // Found in the body wherever the client library puts it.
    const inData = Object.assign(new Error('Request failed'), { status: 400, response: { status: 400, data: { error: { message: missingType } } } });
    assert.ok(isZoneUnsupported(inData, Z));
  });

  it('is not another zone, another resource, another status, or an operation error', () => {
    assert.ok(!isZoneUnsupported(google(400, 'invalid', missingType), 'us-central1-a'));
    assert.ok(!isZoneUnsupported(google(404, 'notFound', "The resource 'projects/debian-cloud/global/images/family/nope' was not found"), Z));
    assert.ok(!isZoneUnsupported(google(403, 'forbidden', missingType), Z));
    assert.ok(!isZoneUnsupported(google(503, 'backendError', missingType), Z));
    assert.ok(!isZoneUnsupported(new GceOperationError(missingType, ['RESOURCE_NOT_FOUND']), Z));
  });

  it('classify makes it a CapacityError for the provider type only when told the zone', () => {
    const ctx = { clock: new ManualClock(), backoff: new ThrottleBackoff(), what: 'insert', providerType: 'a2-highgpu-1g' };
    const err = google(400, 'invalid', missingType);
    assert.equal(asCapacityError(classify(err, { ...ctx, zone: Z }))?.instanceType, 'a2-highgpu-1g');
    assert.equal(classify(err, ctx), err);
  });
});
