/**
 * Rules of the reference's instance and queue metrics that the end-to-end
 * metrics tests leave unpinned (found by mutation testing, round 5): which
 * category a VM counts in, and which series stay at 0 rather than vanish.
 */
import assert from 'node:assert/strict';
import { loadConfigText } from '../../src/config/index.js';
import { DispatcherMetrics, instanceCategory } from '../../src/http/metrics.js';
import type { QueueEntry } from '../../src/scheduler/interfaces.js';
import type { WorkerDetail } from '../../src/worker/pool.js';
import { noSources, parseProm, promValue } from './helpers.js';

const P = 'arvados_dispatchcloud_';
const CONFIG = 'Clusters: {zzzzz: {InstanceTypes: {small: {VCPUs: 1, RAM: 1GiB, Price: 0.1}, big: {VCPUs: 8, RAM: 32GiB, Price: 1}}}}';

const worker = (w: Partial<WorkerDetail>): WorkerDetail =>
  ({ runningContainerUUIDs: [], idleBehavior: 'run', workerState: 'idle', arvadosInstanceType: 'small', price: 0.1, ...w }) as unknown as WorkerDetail;

describe('instance and queue metrics: the reference\'s rules', () => {
  it('counts a held VM that still runs a container as inuse, not hold, as the reference\'s precedence does', () => {
    assert.equal(instanceCategory(worker({ runningContainerUUIDs: ['zzzzz-dz642-000000000000001'], idleBehavior: 'hold', workerState: 'running' })), 'inuse');
    assert.equal(instanceCategory(worker({ idleBehavior: 'hold' })), 'hold');
  });

  it('reports instances_total at 0 for every configured type in every category without a VM', async () => {
    const m = new DispatcherMetrics(loadConfigText(CONFIG).cluster);
    m.attach({ ...noSources(), workers: () => [worker({})] });
    const samples = parseProm(await m.text());
    assert.equal(promValue(samples, `${P}instances_total`, { category: 'idle', instance_type: 'small' }), 1);
    for (const category of ['inuse', 'hold', 'booting', 'unknown', 'idle']) {
      assert.equal(promValue(samples, `${P}instances_total`, { category, instance_type: 'big' }), 0, category);
    }
    assert.equal(promValue(samples, `${P}instances_total`, { category: 'inuse', instance_type: 'small' }), 0);
  });

  it('keeps a queue_entries series once seen, at 0 when its entries are gone, so a graph drops to zero rather than ending', async () => {
    const m = new DispatcherMetrics(loadConfigText(CONFIG).cluster);
    let entries: QueueEntry[] = [{ container: { state: 'Queued' }, instanceTypes: [{ Name: 'small' }] } as unknown as QueueEntry];
    m.attach({ ...noSources(), queueEntries: () => entries });
    assert.equal(promValue(parseProm(await m.text()), `${P}queue_entries`, { state: 'Queued', instance_type: 'small' }), 1);
    entries = [];
    assert.equal(promValue(parseProm(await m.text()), `${P}queue_entries`, { state: 'Queued', instance_type: 'small' }), 0);
  });
});
