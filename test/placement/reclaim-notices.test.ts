/**
 * crunch-run's interruption notices (runtime_status.preemptionNotice, with
 * EC2SpotCheck) reach the pool: read in batches for the containers on
 * preemptible VMs only, each told once.
 */
import assert from 'node:assert/strict';
import type { ListParams } from '../../src/arvados/client.js';
import { ManualClock } from '../../src/clock/manual.js';
import { createLogger, LineCollector, RateLimitedLog, silentLogger } from '../../src/log.js';
import { BATCH, INTERVAL_MS, NoticeReader } from '../../src/placement/reclaim-notices.js';
import type { InstanceView } from '../../src/scheduler/interfaces.js';

/** The container uuids a listContainers call asks for (its one `uuid in [...]` filter). */
function uuidsAsked(p: ListParams): string[] {
  return (p.filters as Array<[string, string, string[]]>)[0][2];
}

function vm(id: string, type: string, running: string[], reclaimNotice?: string): InstanceView {
  return {
    instance: id,
    address: '',
    price: 0,
    arvadosInstanceType: type,
    providerInstanceType: type,
    lastContainerUUID: '',
    lastBusy: 0,
    runningContainerUUIDs: running,
    workerState: 'running',
    idleBehavior: 'run',
    ...(reclaimNotice === undefined ? {} : { reclaimNotice }),
  };
}

/** A list answer naming every uuid asked, with `status` as each one's runtime_status. */
function answerAll(uuids: string[], status: (uuid: string) => Record<string, unknown>): unknown {
  return { items: uuids.map((uuid) => ({ uuid, runtime_status: status(uuid) })), items_available: uuids.length, offset: 0, limit: uuids.length };
}

/**
 * A reader of `views()` (a type ending in ".spot" is preemptible) whose
 * controller answers each batch with `answer`; records the batches asked
 * and the notices told to the pool. Its log goes to `out` when given.
 */
function noticeReader(views: () => InstanceView[], answer: (uuids: string[], p: ListParams) => unknown, out?: LineCollector) {
  const clock = new ManualClock();
  const asked: string[][] = [];
  const told: Array<[string, string]> = [];
  const reader = new NoticeReader({
    client: {
      async listContainers(p: ListParams) {
        const uuids = uuidsAsked(p);
        asked.push(uuids);
        return (await answer(uuids, p)) as never;
      },
    },
    pool: { instances: views, noticeReclaim: (u, r) => (told.push([u, r]), true) },
    preemptible: (name) => name.endsWith('.spot'),
    clock,
    log: new RateLimitedLog(out ? createLogger({ stream: out, clock }) : silentLogger(), clock),
  });
  return { clock, reader, asked, told, toldUuids: () => told.map(([u]) => u) };
}

describe('reclaim notices from crunch-run', () => {
  it("reads the containers on preemptible VMs without a notice yet, in batches, and tells the pool of each notice once", async () => {
    const spotRunning = Array.from({ length: BATCH + 1 }, (_, i) => `c-${i}`);
    const views = [vm('i-spot', 'm5.spot', spotRunning), vm('i-od', 'm5', ['od-1']), vm('i-noticed', 'm5.spot', ['n-1'], 'already')];
    const statuses: Record<string, Record<string, unknown>> = {
      'c-3': { warning: 'preemption notice', warningDetail: 'x', preemptionNotice: 'Cloud provider scheduled instance terminate at 2026-01-01T00:02:00Z' },
      'c-4': { warning: 'something else' },
    };
    const { clock, reader, asked, told } = noticeReader(
      () => views,
      (uuids, p) => {
        assert.deepEqual(p.select, ['uuid', 'runtime_status']);
        return answerAll(uuids, (uuid) => statuses[uuid] ?? {});
      },
    );
    reader.start();
    await clock.advance(INTERVAL_MS);
    assert.deepEqual(asked.map((b) => b.length), [BATCH, 1]);
    assert.ok(!asked.flat().includes('od-1') && !asked.flat().includes('n-1'), 'on-demand and already noticed VMs are not read');
    assert.deepEqual(told, [['c-3', 'crunch-run: Cloud provider scheduled instance terminate at 2026-01-01T00:02:00Z']]);
    await clock.advance(INTERVAL_MS);
    assert.equal(told.length, 1, 'told once');
    assert.ok(!asked.slice(2).flat().includes('c-3'), 'not read again');
    await clock.advance(INTERVAL_MS);
    assert.equal(told.length, 1, 'still told once, however many rounds follow');
    assert.ok(!asked.slice(2).flat().includes('c-3'), 'nor read again');
    reader.stop();
  });

  it("asks again for what a page cut to the controller's MaxItemsPerResponse left out, and stops when the rest are gone", async () => {
    const running = Array.from({ length: 10 }, (_, i) => `c-${i}`);
    const gone = new Set(['c-8', 'c-9']);
    const { clock, reader, asked, toldUuids } = noticeReader(
      () => [vm('i-spot', 'm5.spot', running)],
      (uuids) => {
        // MaxItemsPerResponse: 3, in the order the server likes (the last first).
        const items = [...uuids].reverse().filter((u) => !gone.has(u)).slice(0, 3);
        return { items: items.map((uuid) => ({ uuid, runtime_status: { preemptionNotice: `soon ${uuid}` } })), limit: 3 };
      },
    );
    reader.start();
    await clock.advance(INTERVAL_MS);
    assert.deepEqual(toldUuids().sort(), running.filter((u) => !gone.has(u)).sort(), 'every notice, however the pages were cut');
    assert.deepEqual(asked.map((b) => b.length), [10, 7, 4, 2]);
    reader.stop();
  });

  it('tells a later notice for a container that runs again on another spot VM', async () => {
    let views = [vm('i-1', 'm5.spot', ['c-1'])];
    const { reader, told } = noticeReader(
      () => views,
      (uuids) => answerAll(uuids, () => ({ preemptionNotice: `terminate ${views[0]?.instance}` })),
    );
    await reader.check();
    // i-1 was reclaimed; the container was requeued and runs on i-2 now, which gets its own notice.
    views = [];
    await reader.check();
    views = [vm('i-2', 'm5.spot', ['c-1'])];
    await reader.check();
    assert.deepEqual(told, [
      ['c-1', 'crunch-run: terminate i-1'],
      ['c-1', 'crunch-run: terminate i-2'],
    ]);
  });

  it('takes an empty preemptionNotice for none', async () => {
    const { reader, told } = noticeReader(
      () => [vm('i-1', 'm5.spot', ['c-1'])],
      (uuids) => answerAll(uuids, () => ({ preemptionNotice: '' })),
    );
    await reader.check();
    assert.deepEqual(told, []);
  });

  it('a failed read is logged as a warning with its error, and the next round asks again', async () => {
    const out = new LineCollector();
    let fail = true;
    const { reader, asked, toldUuids } = noticeReader(
      () => [vm('i-1', 'm5.spot', ['c-1'])],
      (uuids) => {
        if (fail) throw new Error('502 Bad Gateway');
        return { items: uuids.map((uuid) => ({ uuid, runtime_status: { preemptionNotice: 'terminate soon' } })) };
      },
      out,
    );
    await reader.check();
    const warn = out.records().find((r) => r.level === 'warning');
    assert.equal(warn?.msg, 'reclaims: cannot read the runtime status of running spot containers');
    assert.equal(warn?.error, '502 Bad Gateway');
    assert.deepEqual(toldUuids(), []);
    fail = false;
    await reader.check();
    assert.deepEqual(asked, [['c-1'], ['c-1']]);
    assert.deepEqual(toldUuids(), ['c-1'], 'read on the next round');
  });

  it('one round at a time: a round due while the last one waits for the controller is skipped', async () => {
    let answer: () => void = () => {};
    const { reader, asked } = noticeReader(
      () => [vm('i-1', 'm5.spot', ['c-1'])],
      (uuids) => {
        const list = { items: uuids.map((uuid) => ({ uuid, runtime_status: {} })) };
        return asked.length > 1 ? list : new Promise((resolve) => (answer = () => resolve(list)));
      },
    );
    const first = reader.check();
    await reader.check();
    assert.equal(asked.length, 1);
    answer();
    await first;
    await reader.check();
    assert.equal(asked.length, 2, 'the next round after it asks again');
  });
});
