/**
 * Quota groups: a quota only some types count against (a machine family's
 * vCPUs, a GPU model's, local SSD space, a Spot one) is a CapacityError for that group; the
 * quotas every type shares, or a quota error naming none, stay QuotaErrors.
 * First from error shapes, then through the real client and the local
 * Compute endpoint, in both the asynchronous and the synchronous form.
 */
import assert from 'node:assert/strict';
import { asCapacityError, CapacityError, isCapacityError, isQuotaError, QuotaError } from '../../../src/cloud/errors.js';
import { ManualClock } from '../../../src/clock/index.js';
import { classify, GceOperationError, quotaMetricsOf, regionalQuota, ThrottleBackoff } from '../../../drivers/gce/errors.js';
import { isGroupQuota, quotaGroupOf } from '../../../drivers/gce/quota.js';
import { driverPerTest, failure } from './helpers.js';

const ctx = (providerType?: string) => ({ clock: new ManualClock(), backoff: new ThrottleBackoff(), what: 'insert', providerType });

/** An operation's QUOTA_EXCEEDED as GCE reports it: the message and, in errorDetails, the quotaInfo. */
function operationQuota(metric: string, region = 'us-central1'): GceOperationError {
  const message = `Quota '${metric}' exceeded.  Limit: 24.0 in region ${region}.`;
  const quotaInfo = { metricName: `compute.googleapis.com/${metric.toLowerCase()}`, limitName: `${metric.replace(/_/g, '-')}-per-project-region`, dimensions: { region }, limit: 24 };
  return new GceOperationError(`insert: operation op-1 failed: QUOTA_EXCEEDED: ${message}`, ['QUOTA_EXCEEDED'], [{ code: 'QUOTA_EXCEEDED', message, errorDetails: [{ quotaInfo }] }]);
}

/** The synchronous form: a 403 whose Google error body (the message text, with gaxios 7) names the quota only in words. */
function httpQuota(metric: string): Error {
  const message = `Quota '${metric}' exceeded.  Limit: 8.0 in region us-central1.`;
  return Object.assign(new Error(JSON.stringify({ error: { code: 403, message, errors: [{ message, domain: 'usageLimits', reason: 'quotaExceeded' }] } })), { status: 403 });
}

describe('gce quota errors: which quota, and whose', () => {
  it('finds the metric in quotaInfo (Service Usage spelling) and in the message, as one name', () => {
    assert.deepEqual(quotaMetricsOf(operationQuota('N2_CPUS')), ['N2_CPUS']);
    assert.deepEqual(quotaMetricsOf(httpQuota('NVIDIA_T4_GPUS')), ['NVIDIA_T4_GPUS']);
    // quotaInfo alone (a message in other words) is enough.
    const bare = new GceOperationError('failed', ['QUOTA_EXCEEDED'], [{ code: 'QUOTA_EXCEEDED', message: 'over quota', errorDetails: [{ quotaInfo: { metricName: 'compute.googleapis.com/c3_cpus' } }] }]);
    assert.deepEqual(quotaMetricsOf(bare), ['C3_CPUS']);
    assert.deepEqual(quotaMetricsOf(new GceOperationError('failed', ['QUOTA_EXCEEDED'])), []);
  });

  it('family, GPU, local SSD and Spot quotas are group quotas; those every type uses are not', () => {
    for (const m of ['N2_CPUS', 'N2D_CPUS', 'C2_CPUS', 'C3_CPUS', 'E2_CPUS', 'NVIDIA_T4_GPUS', 'NVIDIA_A100_80GB_GPUS', 'GPUS_ALL_REGIONS', 'PREEMPTIBLE_CPUS', 'PREEMPTIBLE_NVIDIA_T4_GPUS', 'LOCAL_SSD_TOTAL_GB', 'PREEMPTIBLE_LOCAL_SSD_GB']) {
      assert.ok(isGroupQuota(m), m);
    }
    for (const m of ['CPUS', 'CPUS_ALL_REGIONS', 'INSTANCES', 'IN_USE_ADDRESSES', 'SSD_TOTAL_GB', 'DISKS_TOTAL_GB', 'STATIC_ADDRESSES', 'SUBNETWORKS']) {
      assert.ok(!isGroupQuota(m), m);
    }
    // A shared quota among those named stops every create.
    assert.equal(quotaGroupOf(['N2_CPUS', 'CPUS']), undefined);
    assert.equal(quotaGroupOf([]), undefined);
    assert.equal(quotaGroupOf(['PREEMPTIBLE_CPUS']), 'PREEMPTIBLE_CPUS');
  });

  it('a create over a group quota is a CapacityError for the group, in both forms; the metric is in the message', () => {
    for (const err of [operationQuota('N2_CPUS'), httpQuota('N2_CPUS')]) {
      const out = classify(err, ctx('n2-standard-2'));
      assert.ok(out instanceof CapacityError, String(out));
      assert.equal(out.quotaGroup, 'N2_CPUS');
      assert.equal(out.instanceType, undefined, 'the group, not just this type');
      assert.match(out.message, /quota N2_CPUS/);
      assert.equal(out.cause, err);
    }
  });

  it('a shared quota, or one not named, is a QuotaError; so is a group quota outside a create', () => {
    for (const err of [operationQuota('CPUS'), httpQuota('CPUS_ALL_REGIONS'), operationQuota('INSTANCES'), new GceOperationError('x', ['QUOTA_EXCEEDED'])]) {
      const out = classify(err, ctx('n2-standard-2'));
      assert.ok(out instanceof QuotaError && !isCapacityError(out), String(out));
    }
    assert.ok(classify(operationQuota('N2_CPUS'), ctx()) instanceof QuotaError);
  });
});

describe('gce quota errors: regional or not', () => {
  /** One QUOTA_EXCEEDED item of an operation, as GCE words it: a region's quota, or one of all regions ("globally"). */
  const item = (metric: string, limit: number) => {
    const global = metric.endsWith('_ALL_REGIONS');
    const message = `Quota '${metric}' exceeded.  Limit: ${limit.toFixed(1)} ${global ? 'globally' : 'in region us-central1'}.`;
    const quotaInfo = {
      metricName: `compute.googleapis.com/${metric.toLowerCase()}`,
      limitName: `${metric.replace(/_/g, '-')}-per-project${global ? '' : '-region'}`,
      dimensions: global ? { global: 'global' } : { region: 'us-central1' },
      limit,
    };
    return { code: 'QUOTA_EXCEEDED', message, errorDetails: [{ quotaInfo }] };
  };
  const operation = (...items: Array<ReturnType<typeof item>>) =>
    new GceOperationError(`insert: operation op-1 failed: ${items.map((i) => `QUOTA_EXCEEDED: ${i.message}`).join('; ')}`, ['QUOTA_EXCEEDED'], items);

  it('a quota of the region only is regional; one of all regions is not', () => {
    assert.equal(regionalQuota(operationQuota('CPUS')), true);
    assert.equal(regionalQuota(httpQuota('CPUS')), true);
    assert.equal(regionalQuota(operation(item('CPUS_ALL_REGIONS', 32))), false);
    assert.equal(regionalQuota(httpQuota('CPUS_ALL_REGIONS')), false);
    assert.equal(regionalQuota(new GceOperationError('x', ['QUOTA_EXCEEDED'])), false, 'names no metric');
  });

  it('an insert over both its region\'s CPUS and CPUS_ALL_REGIONS is not regional: a zone in another region shares the global quota', () => {
    // Both orders: the classification must not hang on which item GCE lists first.
    for (const err of [operation(item('CPUS', 24), item('CPUS_ALL_REGIONS', 32)), operation(item('CPUS_ALL_REGIONS', 32), item('CPUS', 24))]) {
      assert.deepEqual(new Set(quotaMetricsOf(err)), new Set(['CPUS', 'CPUS_ALL_REGIONS']));
      assert.equal(regionalQuota(err), false, err.message);
    }
    // The same with a family quota of the region.
    assert.equal(regionalQuota(operation(item('N2_CPUS', 24), item('CPUS_ALL_REGIONS', 32))), false);
  });
});

describe('gce driver: create over a quota (local Compute endpoint)', function () {
  this.timeout(20_000);
  const h = driverPerTest();
  const failedCreate = () => failure(h.create());
  const live = () => h.fake.instances().filter((i) => !i.deleted);

  it('N2_CPUS, reported on the operation, is a CapacityError for the N2_CPUS group, and no VM is left', async () => {
    h.fake.failNext('insert', { quotaExceeded: 'N2_CPUS' });
    const err = await failedCreate();
    assert.equal(asCapacityError(err)?.quotaGroup, 'N2_CPUS', String(err));
    assert.ok(!isQuotaError(err));
    assert.equal(live().length, 0);
    // The operation's errorDetails are kept, not only its message.
    const op = asCapacityError(err)?.cause;
    assert.ok(op instanceof GceOperationError);
    const detailsOnly = op.items.map((i) => ({ code: i.code, errorDetails: i.errorDetails }));
    assert.deepEqual(quotaMetricsOf(new GceOperationError('', op.codes, detailsOnly)), ['N2_CPUS']);
  });

  it('N2_CPUS refused at once (403 quotaExceeded) is the same CapacityError', async () => {
    h.fake.failNext('insert', { quotaExceeded: 'N2_CPUS', synchronous: true });
    const err = await failedCreate();
    assert.equal(asCapacityError(err)?.quotaGroup, 'N2_CPUS', String(err));
  });

  it('CPUS, in either form, is a QuotaError naming it', async () => {
    h.fake.failNext('insert', { quotaExceeded: 'CPUS' });
    h.fake.failNext('insert', { quotaExceeded: 'CPUS', synchronous: true });
    for (const form of ['operation', '403']) {
      const err = await failedCreate();
      assert.ok(isQuotaError(err) && !isCapacityError(err), `${form}: ${String(err)}`);
      assert.match(String(err), /quota CPUS/);
    }
  });

  it('a Spot quota is a group of its own', async () => {
    h.fake.failNext('insert', { quotaExceeded: 'PREEMPTIBLE_CPUS' });
    assert.equal(asCapacityError(await failedCreate())?.quotaGroup, 'PREEMPTIBLE_CPUS');
  });

  it('LOCAL_SSD_TOTAL_GB, in either form, is a CapacityError for that group, not a QuotaError: only types with local SSDs use it', async () => {
    h.fake.failNext('insert', { quotaExceeded: 'LOCAL_SSD_TOTAL_GB' });
    h.fake.failNext('insert', { quotaExceeded: 'LOCAL_SSD_TOTAL_GB', synchronous: true });
    for (const form of ['operation', '403']) {
      const err = await failedCreate();
      assert.equal(asCapacityError(err)?.quotaGroup, 'LOCAL_SSD_TOTAL_GB', `${form}: ${String(err)}`);
      assert.ok(!isQuotaError(err), form);
    }
  });
});
