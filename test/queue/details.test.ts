/**
 * The details read (`src/queue/details.ts`, `arrivals.ts`): a new
 * container's mounts and constant attributes, read once by uuid; the
 * container is not handed out (so not scheduled) until that read succeeds.
 */
import assert from 'node:assert/strict';
import { mountsProblem, readAllDetails, readDetails } from '../../src/queue/details.js';
import { ControllerError } from '../../src/arvados/errors.js';
import type { Container, Mount } from '../../src/arvados/types.js';
import { waitFor } from '../arvados/helpers.js';
import { detailsRecord, harness, type Harness, polls } from './helpers.js';

const GET_ONE = 'GET /arvados/v1/containers/{uuid}';

describe('container queue: details of new containers', () => {
  let h: Harness;

  afterEach(async () => {
    await h?.close();
  });

  it('does not hand out a container until its mounts are known, and reads them again on the next poll', async () => {
    h = await harness({ retry: { attempts: 1 } });
    const c = h.ctl.addContainer({ priority: 5 });
    let fail = true;
    h.ctl.setHook((req) => (fail && req.method === 'GET' && req.path.endsWith(c.uuid) ? { status: 500, body: { errors: ['down for the test'] } } : undefined));
    await h.queue.update();
    assert.equal(h.queue.get(c.uuid), undefined, 'not scheduled while its mounts are unknown');
    assert.equal(h.queue.entries().entries.size, 0);
    assert.equal(h.queue.readingDetails(c.uuid), true, 'still tracked: the scheduler must not kill a crunch-run for it');
    const warned = h.lines.records().filter((r) => r.msg === 'error getting mounts');
    assert.equal(warned.length, 1);
    assert.equal(warned[0].ContainerUUID, c.uuid);
    await h.queue.update();
    assert.equal(h.lines.records().filter((r) => r.msg === 'error getting mounts').length, 1, 'rate-limited');
    fail = false;
    await h.queue.update();
    assert.equal(h.queue.get(c.uuid)?.priority, 5);
    assert.equal(h.queue.readingDetails(c.uuid), false);
    assert.equal(h.ctl.stats[GET_ONE], 3);
  });

  it('keeps of the mounts only the collection PDHs (for locality), none when there are none', async () => {
    h = await harness();
    const withInputs = h.ctl.addContainer({
      mounts: {
        '/keep/a': { kind: 'collection', portable_data_hash: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa+122' },
        '/keep/b': { kind: 'collection', portable_data_hash: 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb+164' },
        '/keep/a-again': { kind: 'collection', portable_data_hash: 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa+122' },
        '/tmp': { kind: 'tmp', capacity: 1 << 30 },
      },
    }).uuid;
    const without = h.ctl.addContainer().uuid;
    await h.queue.update();
    const { entries } = h.queue.entries();
    assert.deepEqual(entries.get(withInputs)?.inputs, ['aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa+122', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb+164']);
    assert.equal('inputs' in entries.get(without)!, false);
    assert.equal('mounts' in entries.get(withInputs)!.container, false, 'the mounts themselves are not kept');
  });

  it('starts no more reads in a poll once one fails for a reason that may pass, leaving them for the next poll', async () => {
    h = await harness({ retry: { attempts: 1 }, queue: { detailsConcurrency: 2 } });
    const all = Array.from({ length: 20 }, () => h.ctl.addContainer().uuid);
    let down = true;
    h.ctl.setHook((req) => (down && req.method === 'GET' && req.path !== '/arvados/v1/containers' && req.path.includes('/containers/') ? { status: 503, body: { errors: ['busy'] } } : undefined));
    await h.queue.update();
    assert.equal(h.ctl.stats[GET_ONE], 2, 'the two in flight when the first failed');
    down = false;
    await h.queue.update();
    assert.equal(all.filter((u) => h.queue.get(u)).length, 20);
  });

  it('reads a container whose last read failed after the others, so it holds up none', async () => {
    h = await harness({ retry: { attempts: 1 }, queue: { detailsConcurrency: 1 } });
    const poisoned = h.ctl.addContainer({ priority: 9 }).uuid;
    const fine = h.ctl.addContainer({ priority: 1 }).uuid;
    h.ctl.setHook((req) => (req.method === 'GET' && req.path.endsWith(poisoned) ? { status: 500, body: { errors: ['cannot render it'] } } : undefined));
    await h.queue.update();
    assert.equal(h.queue.get(fine), undefined, 'the higher priority one is read first, fails, and the poll reads no more');
    await h.queue.update();
    assert.equal(h.queue.get(fine)?.priority, 1);
    assert.equal(h.queue.get(poisoned), undefined);
  });

  it('cancels a container whose mounts the controller cannot decode (its read is a 500), as unsatisfiable, as the reference', async () => {
    h = await harness({ retry: { attempts: 1 } });
    // Old records of both kinds: a field of the wrong type, and a mount that is not an object (the reference's own test case).
    const capacity = h.ctl.addContainer({ priority: 2, mounts: { '/tmp': { kind: 'tmp', capacity: '10 GiB' as unknown as number } } });
    const stdin = h.ctl.addContainer({ priority: 1, mounts: { stdin: ['bork'] as unknown as Mount } });
    await h.queue.update();
    await waitFor('the cancels', () => [capacity, stdin].every((c) => h.ctl.get(c.uuid)?.state === 'Cancelled'));
    assert.equal(
      h.ctl.get(capacity.uuid)?.runtime_status.error,
      'error getting mounts from container record: json: cannot unmarshal string into Go struct field Mount.mounts.capacity of type int64',
    );
    assert.match(String(h.ctl.get(stdin.uuid)?.runtime_status.error), /^error getting mounts from container record: json: cannot unmarshal array into /);
    assert.equal(h.queue.get(capacity.uuid), undefined);
    assert.deepEqual(
      h.lines
        .records()
        .filter((r) => r.msg === 'error getting mounts')
        .map((r) => [r.level, r.ContainerUUID])
        .sort(),
      [
        ['warning', capacity.uuid],
        ['warning', stdin.uuid],
      ].sort(),
      "the reference's warning for each, before its cancel",
    );
    // Every call after the read asked for the few fields it reads, so none had the controller decode the mounts.
    const calls = h.ctl.requestLog().filter((r) => r.method !== 'GET' && r.path.includes(capacity.uuid));
    assert.deepEqual(calls.map((r) => r.path.replace(capacity.uuid, 'UUID')), ['/arvados/v1/containers/UUID/lock', '/arvados/v1/containers/UUID', '/arvados/v1/containers/UUID']);
    for (const r of calls) assert.deepEqual(JSON.parse(r.query.select), ['uuid', 'state', 'priority', 'locked_by_uuid', 'lock_count']);
  });

  it('cancels, as unsatisfiable, a container whose record is read but whose mounts have a bad shape, naming the mount and field', async () => {
    h = await harness({ retry: { attempts: 1 } });
    const c = h.ctl.addContainer({ priority: 1 });
    // A controller that hands the record on without decoding its mounts into the Go type.
    h.ctl.setHook((req) =>
      req.method === 'GET' && req.path.endsWith(c.uuid) && String(req.query.select ?? '').includes('mounts')
        ? { status: 200, body: { ...h.ctl.get(c.uuid), mounts: { '/tmp': { kind: 'tmp', capacity: '10 GiB' } } } }
        : undefined,
    );
    await h.queue.update();
    await waitFor('the cancel', () => h.ctl.get(c.uuid)?.state === 'Cancelled');
    const reason = 'error getting mounts from container record: mount "/tmp": capacity must be an integer, not "10 GiB"';
    assert.equal(h.ctl.get(c.uuid)?.runtime_status.error, reason);
    assert.equal(h.queue.get(c.uuid), undefined, 'never an entry');
    assert.deepEqual(
      h.lines
        .records()
        .filter((r) => r.msg === 'error getting mounts')
        .map((r) => [r.level, r.ContainerUUID, r.error]),
      [['warning', c.uuid, reason]],
      "the reference's warning, before the cancel",
    );
  });

  it('logs only the reference\'s mounts warning for a container cancelled for its mounts, not the no-suitable-type one', async () => {
    h = await harness({ retry: { attempts: 1 } });
    const c = h.ctl.addContainer({ priority: 1, mounts: { '/tmp': { kind: 'tmp', capacity: '10 GiB' as unknown as number } } });
    await h.queue.update();
    await waitFor('the cancel', () => h.ctl.get(c.uuid)?.state === 'Cancelled');
    const msgs = h.lines
      .records()
      .filter((r) => r.ContainerUUID === c.uuid && r.level === 'warning')
      .map((r) => r.msg);
    assert.deepEqual(msgs, ['error getting mounts'], 'the instance types are not what is wrong');
  });

  it('cancels a Running container of ours whose mounts the controller cannot decode, with no lock, as the reference whatever the state', async () => {
    h = await harness({ retry: { attempts: 1 } });
    const c = h.ctl.addContainer({ state: 'Running', mounts: { '/tmp': { kind: 'tmp', capacity: '10 GiB' as unknown as number } } });
    await h.queue.update();
    await waitFor('the cancel', () => h.ctl.get(c.uuid)?.state === 'Cancelled');
    assert.equal(
      h.ctl.get(c.uuid)?.runtime_status.error,
      'error getting mounts from container record: json: cannot unmarshal string into Go struct field Mount.mounts.capacity of type int64',
    );
    assert.equal(h.ctl.stats['POST /arvados/v1/containers/{uuid}/lock'], undefined, 'Running: no lock first');
    assert.equal(h.queue.get(c.uuid), undefined, 'never an entry');
  });

  it('drops a new container the controller no longer has', async () => {
    h = await harness();
    const c = h.ctl.addContainer();
    h.ctl.setHook((req) => (req.method === 'GET' && req.path.endsWith(c.uuid) ? { status: 404, body: { errors: ['not found'] } } : undefined));
    await polls(h, 2);
    assert.equal(h.queue.get(c.uuid), undefined);
    assert.equal(h.ctl.stats[GET_ONE], 2, 'the lists still return it, so it is asked about again');
    assert.ok(h.lines.records().some((r) => r.msg === 'container not found by controller (deleted?)' && r.ContainerUUID === c.uuid), 'warned');
  });

  it('drops a container still waiting for its details when a check finds it gone, leaving nothing behind', async () => {
    h = await harness({ retry: { attempts: 1 } });
    const c = h.ctl.addContainer({ priority: 5 });
    let deleted = false;
    h.ctl.setHook((req) => {
      if (req.method !== 'GET' || !req.path.endsWith(c.uuid)) return req.query.filters?.includes(c.uuid) && deleted ? { status: 200, body: { items: [] } } : undefined;
      return deleted ? { status: 404, body: { errors: ['not found'] } } : { status: 500, body: { errors: ['down for the test'] } };
    });
    await h.queue.update();
    assert.equal(h.queue.readingDetails(c.uuid), true, 'tracked, waiting for its details');
    // Deleted: out of the queued list, and a check by uuid answers nothing.
    h.ctl.setFields(c.uuid, { state: 'Cancelled' });
    deleted = true;
    const reads = h.ctl.stats[GET_ONE];
    await h.queue.update();
    const about = (msg: string): number => h.lines.records().filter((r) => r.msg === msg && r.ContainerUUID === c.uuid).length;
    assert.equal(about('container not found by controller (deleted?)'), 1, 'one warning, from the check');
    assert.equal(h.ctl.stats[GET_ONE], reads, 'the poll whose check found it gone does not read its details');
    assert.equal(about('dropping container from queue'), 0, 'never an entry, so none is dropped');
    assert.equal(h.queue.readingDetails(c.uuid), false);
    assert.equal(h.queue.known(c.uuid), undefined);
    assert.equal(h.queue.entries().entries.size, 0);
    await h.queue.update();
    assert.equal(h.ctl.stats[GET_ONE], reads, 'its details are not asked for again');
    assert.equal(about('container not found by controller (deleted?)'), 1, 'nor is it checked again');
  });

  it("reads ours and the head's at once, then others by priority, up to detailsPerPoll reads a poll", async () => {
    h = await harness({ queue: { pageSize: 100, detailsPerPoll: 180 } });
    const ours = Array.from({ length: 30 }, () => h.ctl.addContainer({ state: 'Running' }).uuid);
    const low = Array.from({ length: 150 }, () => h.ctl.addContainer({ priority: 1 }).uuid);
    const mid = Array.from({ length: 100 }, () => h.ctl.addContainer({ priority: 2 }).uuid);
    const top = Array.from({ length: 100 }, () => h.ctl.addContainer({ priority: 3 }).uuid);
    const known = (uuids: string[]): number => uuids.filter((u) => h.queue.get(u)).length;
    await h.queue.update();
    // The head: the 100 of priority 3. The sweep's first slice: 200 queued by uuid, 150 of priority 1 and 50 of 2.
    assert.deepEqual([known(ours), known(top), known(mid), known(low)], [30, 100, 50, 0]);
    assert.equal(h.ctl.stats[GET_ONE], 180);
    await h.queue.update();
    assert.deepEqual([known(mid), known(low)], [100, 130], 'the rest of priority 2 (found by the next slice) first');
    assert.equal(h.ctl.stats[GET_ONE], 360);
    await h.queue.update();
    assert.deepEqual([known(mid), known(low)], [100, 150]);
  });

  it('finds what the reference could not decode in mounts', () => {
    assert.equal(mountsProblem(undefined), undefined);
    assert.equal(mountsProblem({ '/tmp': { kind: 'tmp', capacity: 1 << 30 }, '/in': { kind: 'json', content: [1, { a: 'b' }] } }), undefined);
    assert.equal(mountsProblem([]), 'mounts is not a JSON object');
    assert.equal(mountsProblem({ '/tmp': 'tmp' }), 'mount "/tmp" is not a JSON object');
    assert.equal(mountsProblem({ '/tmp': { kind: 7 } }), 'mount "/tmp": kind must be a string, not 7');
    assert.equal(mountsProblem({ '/tmp': { kind: 'tmp', capacity: 1.5 } }), 'mount "/tmp": capacity must be an integer, not 1.5');
    // Beyond 2^53 but within an int64, as the reference decodes it: no type has the room, but the mount is readable.
    assert.equal(mountsProblem({ '/tmp': { kind: 'tmp', capacity: 2 ** 60 } }), undefined);
    assert.equal(mountsProblem({ '/tmp': { kind: 'tmp', capacity: 2 ** 64 } }), 'mount "/tmp": capacity must be an integer, not 18446744073709552000');
    assert.equal(mountsProblem({ '/o': { kind: 'collection', writable: 'yes' } }), 'mount "/o": writable must be a boolean, not "yes"');
  });

  it('goes on reading after a read the controller refused (4xx): only a failure that may pass stops the others', async () => {
    const [a, b, c] = ['zzzzz-dz642-000000000000001', 'zzzzz-dz642-000000000000002', 'zzzzz-dz642-000000000000003'];
    const asked: string[] = [];
    const client = {
      getContainer: (uuid: string): Promise<Container> => {
        asked.push(uuid);
        if (uuid === a) return Promise.reject(new ControllerError({ method: 'GET', path: `/arvados/v1/containers/${uuid}`, status: 403, errors: ['forbidden'], attempts: 1, temporary: false }));
        return Promise.reject(new ControllerError({ method: 'GET', path: `/arvados/v1/containers/${uuid}`, status: 422, errors: ['bad'], attempts: 1, temporary: false }));
      },
    };
    const out = await readAllDetails(client, [a, b, c], 1);
    assert.deepEqual(asked, [a, b, c]);
    assert.deepEqual([...out.values()].map((d) => d.outcome), ['failed', 'failed', 'failed']);
    // A temporary failure stops the rest.
    asked.length = 0;
    const down = {
      getContainer: (uuid: string): Promise<Container> => {
        asked.push(uuid);
        return Promise.reject(new ControllerError({ method: 'GET', path: `/arvados/v1/containers/${uuid}`, status: 502, errors: ['proxy'], attempts: 3, temporary: true }));
      },
    };
    assert.deepEqual([...(await readAllDetails(down, [a, b, c], 1)).keys()], [a]);
    assert.deepEqual(asked, [a]);
  });

  it('takes a null mount for an empty one, as Go decodes it, not as a reason to cancel the container', () => {
    assert.equal(mountsProblem({ '/tmp': null, '/out': { kind: 'tmp', capacity: 1 << 30 } }), undefined);
  });

  it('reads a record whose mounts are null (none) as fine: the read never throws', async () => {
    const uuid = 'zzzzz-dz642-000000000000001';
    const record = detailsRecord(uuid, { mounts: null });
    assert.equal(mountsProblem(null), undefined);
    const d = await readDetails({ getContainer: () => Promise.resolve(record as unknown as Container) }, uuid);
    assert.equal(d.outcome, 'ok');
  });
});
