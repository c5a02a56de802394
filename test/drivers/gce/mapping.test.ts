import assert from 'node:assert/strict';
import { buildInstanceBody, labelsFor } from '../../../drivers/gce/body.js';
import { classify, GceOperationError, isTransient } from '../../../drivers/gce/errors.js';
import { decodeTags, encodeTags, labelFilter, labelKey, labelValue, withItem } from '../../../drivers/gce/mapping.js';
import { parseGceParams } from '../../../drivers/gce/params.js';
import { CapacityError, QuotaError, RateLimitError } from '../../../src/cloud/errors.js';
import { ManualClock } from '../../../src/clock/index.js';
import { ThrottleBackoff } from '../../../drivers/gce/errors.js';
import { IMAGE, SCRATCH, SPOT } from './helpers.js';

const LABEL_RE = /^[a-z][a-z0-9_-]{0,62}$/;

describe('gce tag mapping (pure)', () => {
  it('label keys and values always fit GCE label rules; values that fit are kept', () => {
    assert.equal(labelKey('ArvadosInstanceSetID'), 'arvadosinstancesetid');
    assert.equal(labelValue('zzzzz-abc_12'), 'zzzzz-abc_12');
    for (const v of ['Mixed.Case', 'x'.repeat(64), 'h-looks-hashed', 'ünïcode']) {
      const l = labelValue(v);
      assert.match(l, /^[a-z0-9_-]{1,63}$/);
      assert.notEqual(l, v);
    }
    assert.notEqual(labelValue('ABC'), labelValue('abc'), 'case must not collide');
    assert.match(labelKey('9.Weird Key'), LABEL_RE);
    assert.equal(labelFilter('ArvadosInstanceSetID', 'abc'), 'labels.arvadosinstancesetid = "abc"');
  });

  it('round-trips tags with mixed-case keys and dots in values through metadata JSON', () => {
    const tags = { ArvadosInstanceType: 'n2.Standard-2', 'Owner.Name': 'Jane Doe', Empty: '' };
    assert.deepEqual(decodeTags(encodeTags(tags)), tags);
    assert.deepEqual(decodeTags('not json'), {});
    assert.deepEqual(decodeTags('[1]'), {});
  });

  it('withItem replaces one metadata item and keeps the others', () => {
    const items = [{ key: 'startup-script', value: 's' }, { key: 'arvados-tags', value: '{}' }];
    assert.deepEqual(withItem(items, 'arvados-tags', '{"a":"b"}'), [{ key: 'startup-script', value: 's' }, { key: 'arvados-tags', value: '{"a":"b"}' }]);
  });

  it('the insert body has one label, the tags, startup script, ssh key, SPOT scheduling and an auto-deleted scratch disk', () => {
    const { params } = parseGceParams({ Project: 'p', Zone: 'us-central1-a', AdminUsername: 'arv', DiskSizeGB: 20 });
    const tags = { ArvadosInstanceSetID: 'Set.One', ArvadosInstanceType: SPOT.Name };
    const body = buildInstanceBody({ params, zone: 'us-central1-a', name: 'n1', type: { ...SPOT, AddedScratch: SCRATCH.AddedScratch }, imageId: IMAGE, tags, initCommand: 'echo hi', publicKey: 'ssh-ed25519 AAAA k', setTagKey: 'ArvadosInstanceSetID' });
    assert.deepEqual(body.labels, labelsFor(tags, 'ArvadosInstanceSetID'));
    assert.equal(Object.keys(body.labels!).length, 1);
    const items = Object.fromEntries((body.metadata!.items ?? []).map((i) => [i.key, i.value]));
    assert.deepEqual(JSON.parse(items['arvados-tags']!), tags);
    assert.equal(items['startup-script'], '#!/bin/sh\necho hi\n');
    assert.equal(items['ssh-keys'], 'arv:ssh-ed25519 AAAA k');
    assert.equal(items['enable-oslogin'], 'FALSE', 'our key must not be ignored in a project with OS Login on');
    assert.equal(body.scheduling!.provisioningModel, 'SPOT');
    assert.equal(body.scheduling!.instanceTerminationAction, 'DELETE');
    assert.deepEqual(body.networkInterfaces![0].accessConfigs, []);
    assert.equal(body.disks!.length, 2);
    assert.equal(body.disks![0].initializeParams!.diskSizeGb, '20');
    assert.equal(body.disks![1].autoDelete, true);
    assert.equal(body.disks![1].initializeParams!.diskSizeGb, '51');
    assert.equal(body.serviceAccounts, undefined);
  });

  it('without a key the body leaves ssh-keys and OS Login alone', () => {
    const { params } = parseGceParams({ Project: 'p', Zone: 'us-central1-a' });
    const body = buildInstanceBody({ params, zone: 'us-central1-a', name: 'n1', type: SPOT, imageId: IMAGE, tags: {}, initCommand: 'true', publicKey: ' \n', setTagKey: 'ArvadosInstanceSetID' });
    assert.deepEqual((body.metadata!.items ?? []).map((i) => i.key).sort(), ['arvados-tags', 'startup-script']);
  });
});

describe('gce error classification (pure)', () => {
  const clock = new ManualClock(1_000_000);
  const gaxios = (status: number, reason: string) =>
    Object.assign(new Error(JSON.stringify({ error: { code: status, message: 'm', errors: [{ reason, message: 'm' }] } })), { status });
  const ctx = () => ({ clock, backoff: new ThrottleBackoff(), what: 'insert', providerType: 'n2-standard-2' });

  it('429 and rateLimitExceeded are RateLimitErrors with a future retry time', () => {
    for (const err of [gaxios(429, 'whatever'), gaxios(403, 'rateLimitExceeded'), gaxios(403, 'userRateLimitExceeded')]) {
      const out = classify(err, ctx());
      assert.ok(out instanceof RateLimitError);
      assert.ok(out.earliestRetry > clock.now());
      assert.equal(out.cause, err);
    }
  });

  it('quotaExceeded and QUOTA_EXCEEDED are QuotaErrors; zone exhaustion is a CapacityError for the type', () => {
    assert.ok(classify(gaxios(403, 'quotaExceeded'), ctx()) instanceof QuotaError);
    assert.ok(classify(new GceOperationError('x', ['QUOTA_EXCEEDED']), ctx()) instanceof QuotaError);
    for (const code of ['ZONE_RESOURCE_POOL_EXHAUSTED', 'ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS']) {
      const out = classify(new GceOperationError('x', [code]), ctx());
      assert.ok(out instanceof CapacityError);
      assert.equal(out.instanceType, 'n2-standard-2');
    }
  });

  it('5xx and dropped connections are transient; 4xx and operation errors are not', () => {
    assert.ok(isTransient(gaxios(503, 'backendError')));
    assert.ok(isTransient(Object.assign(new Error('reset'), { code: 'ECONNRESET' })));
    assert.ok(!isTransient(gaxios(400, 'invalid')));
    assert.ok(!isTransient(new GceOperationError('x', ['ZONE_RESOURCE_POOL_EXHAUSTED'])));
    const other = gaxios(400, 'invalid');
    assert.equal(classify(other, ctx()), other);
  });
});
