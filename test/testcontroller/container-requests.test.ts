/**
 * The test controller's container requests: the list endpoint answers the
 * filters pre-warming sends, and refuses the ones it does not implement.
 */
import assert from 'node:assert/strict';
import { ContainerRequestTable } from '../../src/testcontroller/container-requests.js';

describe('test controller container requests', () => {
  it('lists the requests of the containers asked about, with the selected attributes', () => {
    const t = new ContainerRequestTable('zzzzz');
    t.add('c1', 'r1');
    t.add('c2');
    t.add('c3', 'r1');
    const q = new URLSearchParams({ filters: JSON.stringify([['container_uuid', 'in', ['c1', 'c2', 'c9']]]), select: JSON.stringify(['container_uuid', 'requesting_container_uuid']) });
    assert.deepEqual(t.list(q).items, [
      { container_uuid: 'c1', requesting_container_uuid: 'r1' },
      { container_uuid: 'c2', requesting_container_uuid: null },
    ]);
    const byRunner = new URLSearchParams({ filters: JSON.stringify([['requesting_container_uuid', '=', 'r1']]) });
    assert.deepEqual((t.list(byRunner).items as Array<{ container_uuid: string }>).map((cr) => cr.container_uuid), ['c1', 'c3']);
  });

  it('refuses filters and selects it does not implement, as a 422', () => {
    const t = new ContainerRequestTable('zzzzz');
    assert.throws(() => t.list(new URLSearchParams({ filters: JSON.stringify([['name', 'like', '%']]) })), /not supported/);
    assert.throws(() => t.list(new URLSearchParams({ select: JSON.stringify(['mounts']) })), /Invalid select/);
  });
});
