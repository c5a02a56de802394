/**
 * Records from the controller that cannot be used (`src/queue/validate.ts`):
 * a bad list item is skipped and the rest of the answer used, with one
 * warning naming the field; a list item's extra attributes do not overwrite
 * what was read by uuid; a list of ours that never ends, or goes back in
 * uuid order, fails the poll, and one with no uuid to page on from ends; a
 * lock answer that is not the container's record fails the lock; a token
 * answer without a well-formed uuid fails with a clear error.
 */
import assert from 'node:assert/strict';
import type { Container } from '../../src/arvados/types.js';
import { harness, type Harness, type HarnessOptions, polls, withList } from './helpers.js';

describe('container queue: records it cannot use', function () {
  this.timeout(30_000);
  let h: Harness;

  /**
   * Sets `h` to a harness whose list of our containers (the one filtered on
   * locked_by_uuid) answers `items(n)` to its n-th request, the other lists
   * as the controller does; returns how many of those requests came so far.
   */
  async function oursAnswer(items: (call: number) => unknown[], queue?: HarnessOptions['queue']): Promise<() => number> {
    let calls = 0;
    h = await harness({
      ...(queue ? { queue } : {}),
      wrap: (client) =>
        withList(client, async (p) => {
          if (!p.filters.some((f) => f[0] === 'locked_by_uuid')) return client.listContainers(p);
          calls++;
          return { items: items(calls) as Container[] };
        }),
    });
    return () => calls;
  }

  afterEach(async () => {
    await h?.close();
  });

  const badRecordWarnings = (): Record<string, unknown>[] =>
    h.lines.records().filter((r) => r.level === 'warning' && String(r.msg).startsWith('ignoring a container record'));

  it('skips a list item with a bad field, uses the others of the same answer, and warns once naming the field', async () => {
    let spoil = '';
    h = await harness({
      wrap: (client) =>
        withList(client, async (p) => {
          const page = await client.listContainers(p);
          // "%c" and "%s" in the value: placeholders to a careless logger.
          return { ...page, items: page.items.map((c) => (c.uuid === spoil ? ({ ...c, priority: '5%c%s' } as unknown as Container) : c)) };
        }),
    });
    const [a, b, c] = [h.ctl.addContainer({ priority: 1 }), h.ctl.addContainer({ priority: 2 }), h.ctl.addContainer({ priority: 3 })];
    spoil = b.uuid;
    await polls(h, 3);

    assert.deepEqual([...h.queue.entries().entries.keys()].sort(), [a.uuid, c.uuid].sort());
    const warnings = badRecordWarnings();
    assert.equal(warnings.length, 1, 'rate-limited: one warning for three polls');
    assert.equal(warnings[0].Field, 'priority');
    assert.equal(warnings[0].ContainerUUID, b.uuid);
    assert.match(String(warnings[0].Problem), /non-negative 64-bit integer, not "5%c%s"/);
  });

  for (const bad of ['x', -1, 1.5]) {
    it(`uses a list item whose lock_count is ${JSON.stringify(bad)} without it (only the start breaker reads it), warning once and naming the field`, async () => {
      let spoil = '';
      h = await harness({
        wrap: (client) =>
          withList(client, async (p) => {
            const page = await client.listContainers(p);
            return { ...page, items: page.items.map((c) => (c.uuid === spoil ? ({ ...c, lock_count: bad } as unknown as Container) : c)) };
          }),
      });
      const [a, b] = [h.ctl.addContainer({ priority: 1 }), h.ctl.addContainer({ priority: 2 })];
      spoil = b.uuid;
      await polls(h, 2);
      assert.deepEqual([...h.queue.entries().entries.keys()].sort(), [a.uuid, b.uuid].sort(), 'both are dispatched');
      assert.equal(h.queue.get(b.uuid)?.lock_count, 0, 'the count its details read gave is kept');
      assert.deepEqual(badRecordWarnings(), []);
      const warnings = h.lines.records().filter((r) => r.msg === 'ignoring a bad lock_count from the controller: the record is used without it');
      assert.deepEqual(warnings.map((w) => [w.level, w.Field, w.ContainerUUID]), [['warning', 'lock_count', b.uuid]], 'rate-limited: once for two polls');
    });
  }

  it('dispatches a container whose details read has a bad lock_count, without it, and says so', async () => {
    h = await harness({
      wrap: (client) => ({
        ...withList(client, async (p) => {
          const page = await client.listContainers(p);
          return { ...page, items: page.items.map((c) => ({ ...c, lock_count: 'many' }) as unknown as Container) };
        }),
        getContainer: async (uuid: string, select?: string[]) => ({ ...(await client.getContainer(uuid, select)), lock_count: 'many' }) as unknown as Container,
      }),
    });
    const ctr = h.ctl.addContainer({ priority: 1 });
    await polls(h, 1);
    assert.ok(h.queue.entries().entries.has(ctr.uuid), 'in the queue');
    assert.ok(!('lock_count' in h.queue.get(ctr.uuid)!), 'without a lock_count');
    assert.deepEqual(badRecordWarnings(), []);
    const warned = h.lines.records().filter((r) => r.msg === 'ignoring a bad lock_count from the controller: the record is used without it');
    assert.deepEqual(warned.map((r) => [r.Source, r.Field, r.ContainerUUID]).sort(), [
      ['head', 'lock_count', ctr.uuid],
      ['read', 'lock_count', ctr.uuid],
    ]);
  });

  it('does not let a list item carry attributes the lists do not select over what was read by uuid', async () => {
    let extra = false;
    h = await harness({
      wrap: (client) =>
        withList(client, async (p) => {
          const page = await client.listContainers(p);
          return extra ? { ...page, items: page.items.map((c) => ({ ...c, runtime_constraints: 'lots' }) as unknown as Container) } : page;
        }),
    });
    const ctr = h.ctl.addContainer({ priority: 1, runtime_constraints: { vcpus: 2, ram: 2 ** 30 } });
    await polls(h, 1);
    extra = true;
    h.ctl.setPriority(ctr.uuid, 7);
    await polls(h, 1);

    const got = h.queue.get(ctr.uuid)!;
    assert.equal(got.priority, 7, 'the list fields are used');
    assert.deepEqual(got.runtime_constraints, { vcpus: 2, ram: 2 ** 30 });
  });

  it('does not take a check answered only with unusable records for "gone": the container stays tracked until an answer says', async () => {
    let spoil = false;
    h = await harness({
      wrap: (client) =>
        withList(client, async (p) => {
          const page = await client.listContainers(p);
          const isCheck = p.filters.some((f) => f[0] === 'uuid' && f[1] === 'in');
          return spoil && isCheck ? { ...page, items: page.items.map((c) => ({ ...c, state: 'Bogus' }) as unknown as Container) } : page;
        }),
    });
    const ctr = h.ctl.addContainer({ priority: 1 });
    const other = h.ctl.addContainer({ priority: 2 });
    await polls(h, 1);
    assert.ok(h.queue.entries().entries.has(ctr.uuid));
    // Out of the queued list: the poll asks about it by uuid, and the answer is garbage.
    h.ctl.setPriority(ctr.uuid, 0);
    spoil = true;
    await polls(h, 2);
    assert.ok(h.queue.entries().entries.has(ctr.uuid), 'an answer with items, none usable, proves nothing: the container is still tracked');
    assert.ok(h.queue.entries().entries.has(other.uuid));
    assert.ok(!h.lines.records().some((r) => String(r.msg).startsWith('container not found by controller')), 'not called deleted');
    assert.equal(badRecordWarnings()[0]?.Field, 'state');
    // A usable answer is taken in.
    spoil = false;
    await polls(h, 1);
    assert.equal(h.queue.get(ctr.uuid)?.priority, 0, 'the usable answer is taken in');
    assert.ok(!h.lines.records().some((r) => String(r.msg).startsWith('container not found by controller')));
  });

  it('fails the poll when the list of ours never ends, after maxListPages requests', async () => {
    // Always one more container, after whatever the request asked to start from.
    const ours = await oursAnswer(
      (call) => [{ uuid: `zzzzz-dz642-${String(call).padStart(15, '0')}`, state: 'Locked', priority: 1, locked_by_uuid: 'zzzzz-gj3su-000000000000000' }],
      { maxListPages: 5 },
    );
    await assert.rejects(h.queue.update(), /did not end after 5 pages/);
    assert.equal(ours(), 5);
  });

  it('fails the poll when a list in uuid order comes back out of order, rather than page on past containers the answer skipped', async () => {
    h = await harness({
      wrap: (client) =>
        withList(client, async (p) => {
          const page = await client.listContainers(p);
          // A controller (or proxy) that does not honour order=uuid: paging on with "uuid > last" would skip what lies between.
          return p.filters.some((f) => f[0] === 'locked_by_uuid') ? { ...page, items: [...page.items].reverse() } : page;
        }),
    });
    for (let i = 0; i < 3; i++) h.ctl.addContainer({ state: 'Locked' });
    await assert.rejects(h.queue.update(), /out of uuid order/);
  });

  it('fails a lock whose answer is not a record of that container, and learns the truth from the next poll', async () => {
    h = await harness({
      wrap: (client) => ({
        ...withList(client, (p) => client.listContainers(p)),
        lockContainer: async (uuid) => ({ ...(await client.lockContainer(uuid)), uuid: 'zzzzz-dz642-999999999999999' }),
      }),
    });
    const ctr = h.ctl.addContainer({ priority: 1 });
    await polls(h, 1);
    await assert.rejects(h.queue.lock(ctr.uuid), /not usable: uuid asked about/);
    assert.equal(h.queue.get(ctr.uuid)!.state, 'Queued', 'the answer was not merged');
    assert.equal(badRecordWarnings()[0]?.Field, 'uuid');
    await polls(h, 1);
    assert.equal(h.queue.get(ctr.uuid)!.state, 'Locked');
  });

  for (const [what, body, field, said] of [
    ['null', null, '(record)', 'must be a container record, not null'],
    ['an object without a uuid', {}, 'uuid', 'got undefined'],
  ] as const) {
    it(`fails a lock answered with ${what}, naming what is wrong, and merges nothing`, async () => {
      h = await harness();
      const ctr = h.ctl.addContainer({ priority: 1 });
      await polls(h, 1);
      h.ctl.setHook((req) => (req.method === 'POST' && req.path.endsWith('/lock') ? { status: 200, body } : undefined));
      await assert.rejects(h.queue.lock(ctr.uuid), (err: Error) => err.message.includes(`not usable: ${field} `) && err.message.includes(said));
      assert.equal(h.queue.get(ctr.uuid)!.state, 'Queued', 'the answer was not merged');
      const w = badRecordWarnings();
      assert.equal(w.length, 1, `one warning: ${JSON.stringify(w)}`);
      assert.equal(w[0].Field, field);
      assert.equal(w[0].ContainerUUID, ctr.uuid);
      assert.equal(w[0].Source, 'reply');
      assert.ok(String(w[0].Problem).includes(said), `the problem says what came: ${String(w[0].Problem)}`);
    });
  }

  for (const [what, body] of [
    ['null', null],
    ['a blank uuid', { uuid: ' ' }],
    ['a uuid that is no uuid', { uuid: 'root' }],
    ["another kind of object's uuid", { uuid: 'zzzzz-j7d0g-000000000000001' }],
  ] as const) {
    it(`fails the poll with a clear error when the token answer is ${what}`, async () => {
      h = await harness();
      h.ctl.setHook((req) => (req.path.endsWith('/api_client_authorizations/current') ? { status: 200, body } : undefined));
      await assert.rejects(h.queue.update(), /api_client_authorizations\/current: the answer has no well-formed uuid/);
    });
  }

  it('fails the poll when an answer of unusable records goes back in uuid order, rather than page on from there', async () => {
    // Whatever is asked, a record (with a state the queue does not know) from before the cursor.
    const ours = await oursAnswer((call) => [{ uuid: `zzzzz-dz642-00000000000000${call === 1 ? 5 : 1}`, state: 'Bogus', priority: 1, locked_by_uuid: null }]);
    await assert.rejects(h.queue.update(), /out of uuid order \(zzzzz-dz642-000000000000001 after zzzzz-dz642-000000000000005\)/);
    assert.equal(ours(), 2);
  });

  it('stops reading the list of ours at an answer with no well-formed uuid: there is no cursor to page on from', async () => {
    const ours = await oursAnswer(() => [{ uuid: 'not-a-container-uuid', state: 'Locked', priority: 1, locked_by_uuid: null }]);
    await h.queue.update();
    assert.equal(ours(), 1);
    assert.equal(badRecordWarnings()[0]?.Field, 'uuid');
  });
});
