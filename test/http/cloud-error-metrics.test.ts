/**
 * `cloud_errors_total{operation,class}`: each failed cloud call counted once,
 * under the class the dispatcher acts on, wrapped errors included; successes
 * not at all; every series there from the start.
 */
import assert from 'node:assert/strict';
import { CapacityError, QuotaError, RateLimitError } from '../../src/cloud/errors.js';
import { loadConfigText } from '../../src/config/index.js';
import { DispatcherMetrics } from '../../src/http/metrics.js';
import { parseProm, promValue } from './helpers.js';

const NAME = 'arvados_dispatchcloud_cloud_errors_total';

describe('cloud_errors_total', () => {
  it('counts failed calls by operation and class, from zero', async () => {
    const { cluster } = loadConfigText('Clusters:\n  zzzzz:\n    SystemRootToken: x\n');
    const m = new DispatcherMetrics(cluster);
    const before = parseProm(await m.text());
    for (const op of ['Create', 'List', 'Destroy', 'SetTags']) {
      for (const cls of ['rate_limit', 'quota', 'capacity', 'other']) assert.equal(promValue(before, NAME, { operation: op, class: cls }), 0, `${op} ${cls}`);
    }

    m.observeCloud('Create', undefined);
    m.observeCloud('Create', new QuotaError('quota'));
    m.observeCloud('Create', new Error('wrapped', { cause: new CapacityError('no m5.large', { instanceType: 'm5.large' }) }));
    m.observeCloud('Create', new CapacityError('no capacity'));
    m.observeCloud('List', new RateLimitError('slow down', 0));
    m.observeCloud('Destroy', new Error('boom'));
    const after = parseProm(await m.text());
    assert.equal(promValue(after, NAME, { operation: 'Create', class: 'quota' }), 1);
    assert.equal(promValue(after, NAME, { operation: 'Create', class: 'capacity' }), 2);
    assert.equal(promValue(after, NAME, { operation: 'Create', class: 'other' }), 0, 'a success is no error');
    assert.equal(promValue(after, NAME, { operation: 'List', class: 'rate_limit' }), 1);
    assert.equal(promValue(after, NAME, { operation: 'Destroy', class: 'other' }), 1);
    // The reference's counter still counts every failure once.
    assert.equal(promValue(after, 'arvados_dispatchcloud_driver_operations', { operation: 'Create', error: '1' }), 3);
  });
});
