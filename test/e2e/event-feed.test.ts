/**
 * The whole dispatcher (in-process, lame cloud over SSH on 127.0.0.1)
 * against the test controller and its event feed over real sockets:
 * containers start through the feed alone when polls are an hour apart;
 * a feed that drops, loses, duplicates, reorders and garbles loses no
 * container; a feed that is down says so once, the dispatcher works from
 * polls, and picks the feed up again when it returns.
 */
import assert from 'node:assert/strict';
import { systemClock } from '../../src/clock/index.js';
import { loadConfigFile } from '../../src/config/index.js';
import type { Cluster } from '../../src/config/types.js';
import { againstController, EXAMPLE_CONFIG } from '../../src/demo/run.js';
import { createDispatcher, type Dispatcher } from '../../src/dispatcher.js';
import { waitUntil } from '../../src/harness/processes.js';
import { createLogger, LineCollector } from '../../src/log.js';
import type { FeedFaults } from '../../src/testcontroller/index.js';
import { TestController } from '../fixtures/controller.js';

interface Stack {
  ctl: TestController;
  d: Dispatcher;
  lines: LineCollector;
  messages(): string[];
}

let seq = 0;

async function startStack(o: { pollInterval: number; feed?: FeedFaults }): Promise<Stack> {
  const { cluster: loaded } = loadConfigFile(EXAMPLE_CONFIG, {});
  const lines = new LineCollector();
  const log = createLogger({ level: 'debug', stream: lines, secrets: [loaded.SystemRootToken, loaded.ManagementToken] });
  const ctl = new TestController({ clusterId: loaded.ClusterID, rootToken: loaded.SystemRootToken, feed: o.feed });
  await ctl.start();
  const base = againstController(loaded, ctl.url, {
    MinBootTime: 100, MaxBootTime: 300,
    ErrorRateCreate: 0, ErrorRateDestroy: 0, CrunchRunCrashRate: 0, BrokenRate: 0, NeverBootRate: 0,
    CapacityErrorTypes: [], QuotaMaxInstances: 0,
    Seed: 5, CloudName: `event-feed-${process.pid}-${++seq}`,
  });
  const cluster: Cluster = {
    ...base,
    Services: { ...base.Services, Websocket: { ExternalURL: ctl.feed.url } },
    Containers: { ...base.Containers, CloudVMs: { ...base.Containers.CloudVMs, PollInterval: o.pollInterval, MaxInstances: 4 } },
  };
  const d = await createDispatcher(cluster, { logger: log, clock: systemClock });
  d.start();
  return { ctl, d, lines, messages: () => lines.records().map((r) => String(r.msg)) };
}

/** Cancels what is left, drains every VM, waits for the cloud to be empty, stops. */
async function stopStack(s: Stack | undefined): Promise<void> {
  if (!s) return;
  const { ctl, d } = s;
  try {
    for (const c of ctl.all()) if (c.state !== 'Complete' && c.state !== 'Cancelled') ctl.cancel(c.uuid, 'test over');
    const tag = `${d.cluster.Containers.CloudVMs.TagKeyPrefix}InstanceSetID`;
    await waitUntil('every lame VM to be gone', async () => {
      for (const v of d.pool.instances()) {
        if (v.idleBehavior !== 'drain' && d.pool.detail(v.instance) !== undefined) await d.pool.setIdleBehavior(v.instance, 'drain').catch(() => undefined);
      }
      return (await d.instanceSet.instances({ [tag]: d.instanceSetId })).length === 0;
    }, 30_000);
  } finally {
    await d.stop();
    await ctl.stop();
  }
}

const final = (ctl: TestController, uuid: string): boolean => ['Complete', 'Cancelled'].includes(ctl.get(uuid)?.state ?? '');

function submit(ctl: TestController, n: number): string[] {
  return Array.from({ length: n }, () => ctl.addContainer({ command: ['sleep', '0.2'], priority: 1, runtime_constraints: { vcpus: 1, ram: 1 << 30 } }).uuid);
}

/** Each container was locked once and ran once, to Complete. */
function ranOnce(ctl: TestController, uuids: string[]): void {
  for (const u of uuids) {
    const states = ctl.history(u).map((h) => h.state);
    assert.deepEqual(states, ['Queued', 'Locked', 'Running', 'Complete'], `${u}: ${states.join(' -> ')}`);
  }
}

describe('the dispatcher with the Arvados event feed', function () {
  this.timeout(60_000);
  let stack: Stack | undefined;

  afterEach(async () => {
    await stopStack(stack);
    stack = undefined;
  });

  it('starts containers through the feed alone when polls are an hour apart', async () => {
    stack = await startStack({ pollInterval: 3_600_000 });
    const { ctl, d } = stack;
    await waitUntil('the feed to connect', () => d.eventFeed.view().state === 'connected', 10_000, 20);
    await waitUntil('the first poll', () => d.queue.entries().updated > 0, 10_000, 20);
    // Every poll reads the list of ours first: count those to show no poll found these containers.
    const polls = (): number => ctl.requestLog().filter((r) => r.route === '/arvados/v1/containers' && (r.query.filters ?? '').includes('locked_by_uuid')).length;
    await waitUntil('the poll after subscribing', () => polls() >= 2, 10_000, 20);
    await d.queue.update();
    const pollsBefore = polls();
    const uuids = submit(ctl, 6);
    await waitUntil('every container to finish', () => uuids.every((u) => final(ctl, u)), 40_000, 50, () =>
      uuids.map((u) => `${u} ${ctl.get(u)?.state}`).join(', '),
    );
    ranOnce(ctl, uuids);
    assert.equal(polls(), pollsBefore, 'no poll since the containers were submitted');
    const view = d.eventFeed.view();
    assert.ok(view.hints.refreshes > 0);
    assert.equal(view.status?.connects, 1);
    const metrics = await d.metrics.text();
    assert.match(metrics, /arvados_dispatchcloud_event_feed_state\{state="connected"\} 1/);
    // The daemon's feed connects with a token of its own, not the SystemRootToken (arvados-ws logs it).
    assert.match(metrics, /arvados_dispatchcloud_event_feed_token\{state="own"\} 1/);
    assert.match(metrics, /arvados_dispatchcloud_event_feed_subscriptions_total\{kind="renewal"\} 0/);
    assert.match(metrics, /arvados_dispatchcloud_event_feed_refreshes_total\{kind="refresh"\} [1-9]/);
  });

  it('loses no container to a feed that drops, loses, duplicates, reorders and garbles (polling catches the rest)', async () => {
    stack = await startStack({
      pollInterval: 2000,
      feed: { dropEveryMs: 700, loseRate: 0.3, duplicateRate: 0.3, delayMs: 10, delayJitterMs: 200, reorderWindow: 3, garbageRate: 0.2, heartbeatMs: 300, seed: 9 },
    });
    const { ctl, d } = stack;
    const uuids: string[] = [];
    for (let i = 0; i < 6; i++) {
      uuids.push(...submit(ctl, 3));
      await new Promise((r) => setTimeout(r, 250));
    }
    await waitUntil('every container to finish', () => uuids.every((u) => final(ctl, u)), 50_000, 50, () =>
      uuids.filter((u) => !final(ctl, u)).map((u) => `${u} ${ctl.get(u)?.state}`).join(', '),
    );
    ranOnce(ctl, uuids);
    const counts = ctl.feed.counts();
    assert.ok(counts.eventsLost > 0 && counts.eventsDuplicated > 0 && counts.garbageSent > 0, JSON.stringify(counts));
    const status = d.eventFeed.view().status!;
    assert.ok(status.connects >= 2, `the feed was dropped and came back (${status.connects} subscriptions)`);
    assert.ok(status.events.garbage > 0);
    assert.equal(stack.messages().filter((m) => m.startsWith('event feed sent a message it cannot use')).length, 1, 'garbage warned of once a minute');
  });

  it('says once that the feed is down, dispatches from polls, and takes the feed up again when it returns', async () => {
    stack = await startStack({ pollInterval: 1000, feed: { refuse: 503 } });
    const { ctl, d } = stack;
    const first = submit(ctl, 3);
    await waitUntil('the first containers to finish, from polls', () => first.every((u) => final(ctl, u)), 30_000, 50);
    ranOnce(ctl, first);
    assert.equal(d.eventFeed.view().state, 'unavailable');
    assert.match(await d.metrics.text(), /arvados_dispatchcloud_event_feed_state\{state="unavailable"\} 1/);
    const down = stack.messages().filter((m) => m.startsWith('event feed unavailable'));
    assert.equal(down.length, 1, `said once, though refused ${ctl.feed.counts().refused} times`);
    assert.match(down[0], /Unexpected server response: 503; dispatching from polls every PollInterval until it comes back/);

    ctl.feed.setFaults({ refuse: undefined });
    await waitUntil('the feed to come back', () => d.eventFeed.view().state === 'connected', 30_000, 50);
    assert.equal(stack.messages().filter((m) => m.startsWith('event feed connected again after')).length, 1);
    const second = submit(ctl, 3);
    await waitUntil('the next containers to finish', () => second.every((u) => final(ctl, u)), 30_000, 50);
    ranOnce(ctl, second);
  });
});
