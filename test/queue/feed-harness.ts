/**
 * The container queue linked to the test controller's event feed over real
 * sockets, with the queue's poll loop NOT running: whatever the queue learns
 * after its first poll, it learns from the feed's events (and the poll each
 * subscription causes). Shared by the queue's feed tests and the feed fuzz
 * suite; real time, with bounded condition waits, unless given a manual
 * clock (then controller, queue and link share it; the sockets stay real).
 */
import { type Clock, systemClock } from '../../src/clock/index.js';
import { loadConfigText } from '../../src/config/index.js';
import { EventFeedLink } from '../../src/queue/event-feed-link.js';
import { ControllerTokens } from '../../src/arvados/token-calls.js';
import { ContainerQueueImpl } from '../../src/queue/queue.js';
import { waitUntil } from '../../src/harness/processes.js';
import type { FeedFaults } from '../../src/testcontroller/index.js';
import { captureLogger, makeClient, OTHER_TOKEN, ROOT_TOKEN, startController } from '../arvados/helpers.js';
import { SMALL_TYPES } from './helpers.js';

/** A started controller with its feed faulted as `faults` says, a queue (PollInterval 1h, loop not started) and its feed link. */
export async function startFeedHarness(faults: FeedFaults = {}, linkOptions: { tokenCheckMs?: number; scopedToken?: boolean } = {}, clock: Clock = systemClock) {
  const ctl = await startController({ feed: faults, clock });
  const { logger, lines } = captureLogger();
  // On a manual clock, a request must not time out because a test moved the clock past its deadline.
  const client = makeClient(ctl.url, { logger, clock, ...(clock === systemClock ? {} : { retry: { requestTimeoutMs: 3_600_000 } }) });
  const cluster = loadConfigText(
    `Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT_TOKEN}\n    Services:\n      Controller:\n        ExternalURL: ${ctl.url}\n` +
      `      Websocket:\n        ExternalURL: ${ctl.feed.url}\n    Containers:\n      CloudVMs:\n        PollInterval: 1h\n    InstanceTypes:\n${SMALL_TYPES}`,
  ).cluster;
  const queue = new ContainerQueueImpl({ client, cluster, clock, logger });
  const link = new EventFeedLink(cluster, queue, { clock, logger, issuer: new ControllerTokens(client, clock), ...linkOptions });
  return {
    ctl,
    queue,
    link,
    lines,
    /** Requests the controller served from index `from` of its log on. */
    requestsSince: (from: number) => ctl.requestLog().slice(from),
    async connected() {
      link.start();
      await waitUntil('the feed to subscribe', () => link.view().state === 'connected' && link.view().hints.polls >= 1, 5000, 20);
      await queue.update();
    },
    /** Until no hint is waiting and nothing has been asked of the controller for a while. */
    async quiet(ms = 300) {
      let seen = -1;
      await waitUntil('the refreshes to settle', () => {
        const n = ctl.requestLog().length;
        const still = n === seen && link.view().pending === 0;
        seen = n;
        return still;
      }, 10_000, ms);
    },
    async close() {
      await link.stop();
      await queue.stop();
      client.close();
      await ctl.stop();
    },
  };
}

export type FeedHarness = Awaited<ReturnType<typeof startFeedHarness>>;

/** Lock or unlock as another dispatcher would, over HTTP. */
export async function asOther(url: string, uuid: string, op: 'lock' | 'unlock'): Promise<number> {
  const res = await fetch(`${url}/arvados/v1/containers/${uuid}/${op}`, { method: 'POST', headers: { Authorization: `Bearer ${OTHER_TOKEN}` } });
  await res.arrayBuffer();
  return res.status;
}

/** The queue's record of a container matches the controller's, or the queue rightly no longer tracks it. */
export function agrees(h: FeedHarness, uuid: string): boolean {
  const truth = h.ctl.get(uuid)!;
  const known = h.queue.known(uuid);
  const mayRun = truth.state === 'Queued' && truth.priority > 0;
  if (!known) return !mayRun;
  return known.state === truth.state && known.priority === truth.priority && (known.locked_by_uuid ?? null) === (truth.locked_by_uuid ?? null);
}
