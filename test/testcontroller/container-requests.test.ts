/** The test controller's container requests, listed through the dispatcher's own client. */
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { ControllerClient, isControllerError } from '../../src/arvados/client.js';
import { systemClock } from '../../src/clock/index.js';
import { createLogger } from '../../src/log.js';
import { TestController } from '../../src/testcontroller/index.js';
import { ROOT_TOKEN } from './helpers.js';

const silent = createLogger({ level: 'error', stream: new Writable({ write: (_c, _e, cb) => cb() }) });

describe('test controller: container requests', () => {
  const ctl = new TestController({ rootToken: ROOT_TOKEN });
  const client = new ControllerClient({ baseURL: 'http://anything.invalid', token: ROOT_TOKEN, clock: systemClock, logger: silent, retry: { attempts: 1 }, transport: ctl.inProcessTransport() });
  const runner = ctl.addContainer();
  const child = ctl.addContainer();
  const top = ctl.addContainerRequest({ owner_uuid: 'zzzzz-tpzed-aaaaaaaaaaaaaaa', container_uuid: runner.uuid });
  const sub = ctl.addContainerRequest({ owner_uuid: 'zzzzz-j7d0g-ppppppppppppppp', container_uuid: child.uuid, requesting_container_uuid: runner.uuid });

  it('lists by container_uuid (in and =), with select, in uuid order', async () => {
    const select = ['uuid', 'owner_uuid', 'container_uuid', 'requesting_container_uuid', 'modified_by_user_uuid'];
    const page = await client.listContainerRequests({ filters: [['container_uuid', 'in', [child.uuid, runner.uuid, 'zzzzz-dz642-nothere']]], select, order: 'uuid' });
    assert.deepEqual(page.items, [
      { kind: 'arvados#containerRequest', uuid: top.uuid, owner_uuid: top.owner_uuid, container_uuid: runner.uuid, requesting_container_uuid: null, modified_by_user_uuid: top.owner_uuid },
      { kind: 'arvados#containerRequest', uuid: sub.uuid, owner_uuid: sub.owner_uuid, container_uuid: child.uuid, requesting_container_uuid: runner.uuid, modified_by_user_uuid: null },
    ]);
    const one = await client.listContainerRequests({ filters: [['container_uuid', '=', child.uuid]], select: ['uuid'] });
    assert.deepEqual(one.items, [{ kind: 'arvados#containerRequest', uuid: sub.uuid }]);
  });

  it('lists each request once when a container uuid is named twice, and takes = null as IS NULL', async () => {
    const twice = await client.listContainerRequests({ filters: [['container_uuid', 'in', [child.uuid, child.uuid]]], select: ['uuid'] });
    assert.deepEqual(twice.items.map((r) => r.uuid), [sub.uuid]);
    const none = await client.listContainerRequests({ filters: [['container_uuid', '=', null]], select: ['uuid'] });
    assert.deepEqual(none.items, [], 'every request here has a container');
    const loose = ctl.addContainerRequest({});
    const nulls = await client.listContainerRequests({ filters: [['container_uuid', '=', null]], select: ['uuid'] });
    assert.deepEqual(nulls.items.map((r) => r.uuid), [loose.uuid]);
  });

  it('pages with limit and offset, and filters on requesting_container_uuid', async () => {
    const all = await client.listContainerRequests({ filters: [], limit: 1, offset: 1 });
    assert.deepEqual(all.items.map((r) => r.uuid), [sub.uuid]);
    const kids = await client.listContainerRequests({ filters: [['requesting_container_uuid', '=', runner.uuid]] });
    assert.deepEqual(kids.items.map((r) => r.uuid), [sub.uuid]);
  });

  it('refuses what it does not serve with a 422', async () => {
    for (const filters of [[['owner_uuid', '=', 'x']], [['container_uuid', '>', 'x']]] as Array<Array<[string, string, unknown]>>) {
      await assert.rejects(client.listContainerRequests({ filters }), (err: unknown) => isControllerError(err) && err.status === 422, JSON.stringify(filters));
    }
    await assert.rejects(client.listContainerRequests({ filters: [], order: 'priority desc' }), (err: unknown) => isControllerError(err) && err.status === 422);
  });
});
