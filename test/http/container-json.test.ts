/**
 * The container record in queue items has every key of the reference's
 * arvados.Container, with Go's zero values where the queue does not know
 * the attribute, and the constraint structs filled in.
 */
import assert from 'node:assert/strict';
import type { Container } from '../../src/arvados/types.js';
import { containerJSON, goTimeText } from '../../src/http/container-json.js';

/** As the controller answers the queue's select: an older record, without gpu or keep_cache_disk. */
const listed = {
  uuid: 'zzzzz-dz642-000000000000001',
  state: 'Queued',
  priority: 562949953421311,
  locked_by_uuid: null,
  runtime_constraints: { ram: 2 ** 31, vcpus: 2, keep_cache_ram: 0, API: true, cuda: { device_count: 0 } },
  container_image: 'd41d8cd98f00b204e9800998ecf8427e+0',
  scheduling_parameters: { preemptible: true },
  created_at: '2026-12-05T21:24:04.120000000Z',
} as unknown as Container;

describe('management API: the container record of a queue item', () => {
  it('has every key of the reference struct, in its order, with Go zero values for the rest', () => {
    const j = containerJSON(listed);
    assert.deepEqual(Object.keys(j), [
      'uuid', 'etag', 'created_at', 'modified_by_user_uuid', 'modified_at', 'command', 'container_image', 'cwd', 'environment',
      'locked_by_uuid', 'lock_count', 'mounts', 'output', 'output_path', 'output_glob', 'priority', 'runtime_constraints', 'state',
      'scheduling_parameters', 'exit_code', 'runtime_status', 'started_at', 'finished_at', 'gateway_address',
      'interactive_session_started', 'output_storage_classes', 'runtime_user_uuid', 'runtime_auth_scopes', 'runtime_token',
      'auth_uuid', 'log', 'cost', 'subrequests_cost', 'service', 'published_ports',
    ]);
    assert.equal(j.uuid, listed.uuid);
    assert.equal(j.state, 'Queued');
    assert.equal(j.priority, 562949953421311);
    assert.equal(j.container_image, listed.container_image);
    assert.equal(j.created_at, '2026-12-05T21:24:04.12Z');
    assert.equal(j.modified_at, '0001-01-01T00:00:00Z');
    assert.equal(j.locked_by_uuid, '');
    assert.equal(j.lock_count, 0);
    assert.equal(j.command, null);
    assert.equal(j.mounts, null);
    assert.equal(j.started_at, null);
    assert.equal(j.runtime_status, null);
    assert.equal(j.cost, 0);
    // The structs: every key, unknown ones (an older release's cuda) left out, as Go's decoder does.
    assert.deepEqual(j.runtime_constraints, {
      API: true,
      ram: 2 ** 31,
      vcpus: 2,
      keep_cache_ram: 0,
      keep_cache_disk: 0,
      gpu: { stack: '', driver_version: '', hardware_target: null, device_count: 0, vram: 0 },
    });
    assert.deepEqual(j.scheduling_parameters, { partitions: null, preemptible: true, max_run_time: 0, supervisor: false });
  });

  it('says who holds the lock, and how many locks the container has had, when the queue knows it', () => {
    const j = containerJSON({ ...listed, state: 'Locked', locked_by_uuid: 'zzzzz-gj3su-000000000000000', lock_count: 3 });
    assert.equal(j.locked_by_uuid, 'zzzzz-gj3su-000000000000000');
    assert.equal(j.lock_count, 3);
  });

  it('writes times as Go does after reading them', () => {
    assert.equal(goTimeText('2026-12-05T21:24:04.000000000Z'), '2026-12-05T21:24:04Z');
    assert.equal(goTimeText('2026-12-05T21:24:04.123456789Z'), '2026-12-05T21:24:04.123456789Z');
    assert.equal(goTimeText('2026-12-05T21:24:04.5+00:00'), '2026-12-05T21:24:04.5Z');
    assert.equal(goTimeText('2026-12-05T21:24:04.50+02:00'), '2026-12-05T21:24:04.5+02:00');
    assert.equal(goTimeText('yesterday'), 'yesterday');
  });

  it('writes at most nine fraction digits, as Go keeps nanoseconds', () => {
    assert.equal(goTimeText('2026-12-05T21:24:04.1234567891Z'), '2026-12-05T21:24:04.123456789Z');
  });

  it('writes a zero offset as Z, -00:00 included', () => {
    assert.equal(goTimeText('2026-12-05T21:24:04.5-00:00'), '2026-12-05T21:24:04.5Z');
  });

  it('gives null, not {}, for an environment the record does not have', () => {
    assert.equal(containerJSON(listed).environment, null);
    assert.deepEqual(containerJSON({ ...listed, environment: { A: 'b' } } as unknown as Container).environment, { A: 'b' });
  });

  it('writes a lower-case z zone as Z', () => {
    assert.equal(goTimeText('2026-12-05T21:24:04.5z'), '2026-12-05T21:24:04.5Z');
  });

  it('takes an empty time as not set: the zero time, or null where the reference has a pointer', () => {
    const j = containerJSON({ ...listed, created_at: '', started_at: '' } as unknown as Container);
    assert.equal(j.created_at, '0001-01-01T00:00:00Z');
    assert.equal(j.started_at, null);
  });

  it('shows the GPU constraints and the partitions a record has', () => {
    const j = containerJSON({
      ...listed,
      runtime_constraints: { ...listed.runtime_constraints, gpu: { stack: 'cuda', driver_version: '12.0', hardware_target: ['8.0'], device_count: 2, vram: 2 ** 34 } },
      scheduling_parameters: { partitions: ['fast', 'gpu'], preemptible: false },
    } as unknown as Container);
    assert.deepEqual(j.runtime_constraints.gpu, { stack: 'cuda', driver_version: '12.0', hardware_target: ['8.0'], device_count: 2, vram: 2 ** 34 });
    assert.deepEqual(j.scheduling_parameters.partitions, ['fast', 'gpu']);
  });
});
