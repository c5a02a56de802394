/**
 * Shared by the container queue's tests: a test controller under a manual
 * clock, a real client over HTTP, a small cluster config, and a queue.
 */
import type { ControllerClient, ListParams, RetryOptions } from '../../src/arvados/client.js';
import { ManualClock } from '../../src/clock/index.js';
import { type Cluster, loadConfigText } from '../../src/config/index.js';
import type { LineCollector, Logger } from '../../src/log.js';
import { ContainerQueueImpl, type ContainerQueueOptions, type QueueClient } from '../../src/queue/queue.js';
import type { TestController } from '../fixtures/controller.js';
import { captureLogger, makeClient, ROOT_TOKEN, startController } from '../arvados/helpers.js';

export const SMALL_TYPES = `      small: {VCPUs: 2, RAM: 4GiB, Price: 0.1, IncludedScratch: 50GiB}\n      large: {VCPUs: 8, RAM: 32GiB, Price: 0.8, IncludedScratch: 200GiB}\n`;

/** A cluster pointed at `url`, with two instance types unless `types` says otherwise (YAML lines). */
export function queueCluster(url: string, types = SMALL_TYPES, cloudVMs = ''): Cluster {
  const yaml =
    `Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT_TOKEN}\n    Services:\n      Controller:\n        ExternalURL: ${url}\n` +
    `    Containers:\n      CloudVMs:\n        PollInterval: 10s\n${cloudVMs}` +
    `    InstanceTypes:\n${types || '      {}\n'}`;
  return loadConfigText(yaml).cluster;
}

export interface Harness {
  clock: ManualClock;
  ctl: TestController;
  client: ControllerClient;
  cluster: Cluster;
  queue: ContainerQueueImpl;
  logger: Logger;
  lines: LineCollector;
  close(): Promise<void>;
}

export interface HarnessOptions {
  types?: string;
  /** Wraps the real client, e.g. to hold a call or count them. */
  wrap?: (client: ControllerClient) => QueueClient;
  queue?: Partial<ContainerQueueOptions>;
  retry?: Partial<RetryOptions>;
}

export async function harness(o: HarnessOptions = {}): Promise<Harness> {
  const clock = new ManualClock();
  const ctl = await startController({ clock });
  const { logger, lines } = captureLogger();
  const client = makeClient(ctl.url, { clock, logger, retry: { requestTimeoutMs: 600_000, ...o.retry } });
  const cluster = queueCluster(ctl.url, o.types);
  const queue = new ContainerQueueImpl({ client: o.wrap ? o.wrap(client) : client, cluster, clock, logger, ...o.queue });
  return {
    clock,
    ctl,
    client,
    cluster,
    queue,
    logger,
    lines,
    async close() {
      await queue.stop();
      client.close();
      await ctl.stop();
    },
  };
}

/** The same client with `listContainers` replaced (the rest bound to the real one). */
export function withList(client: ControllerClient, listContainers: QueueClient['listContainers']): QueueClient {
  return {
    currentTokenUuid: () => client.currentTokenUuid(),
    listContainers,
    getContainer: (uuid, select) => client.getContainer(uuid, select),
    lockContainer: (uuid) => client.lockContainer(uuid),
    unlockContainer: (uuid) => client.unlockContainer(uuid),
    updateContainer: (uuid, attrs) => client.updateContainer(uuid, attrs),
  };
}

/** Which part of a poll a list request belongs to (see `src/queue/poll.ts`). */
export function phaseOf(p: Pick<ListParams, 'filters' | 'order'>): 'mine' | 'head' | 'sweep' | 'check' {
  const attrs = p.filters.map((f) => f[0]);
  if (attrs.includes('locked_by_uuid')) return 'mine';
  if (attrs.includes('state')) return p.order === 'uuid' && !p.filters.some((f) => f[0] === 'priority' && f[1] !== '>') ? 'sweep' : 'head';
  return 'check';
}

/** The list requests the controller has served, each with its part of the poll, filters and selected fields. */
export function listRequests(ctl: TestController): Array<{ phase: ReturnType<typeof phaseOf>; filters: ListParams['filters']; order: string; select: string[]; limit: string }> {
  return ctl
    .requestLog()
    .filter((r) => r.method === 'GET' && r.path === '/arvados/v1/containers')
    .map((r) => {
      const filters = JSON.parse(r.query.filters) as ListParams['filters'];
      const order = r.query.order;
      const phase = phaseOf({ filters, order: order?.startsWith('[') ? (JSON.parse(order) as string[]) : order });
      return { phase, filters, order, select: JSON.parse(r.query.select ?? '[]') as string[], limit: r.query.limit };
    });
}

/** Polls `n` times. */
export async function polls(h: Harness, n: number): Promise<void> {
  for (let i = 0; i < n; i++) await h.queue.update();
}

/** A promise with its resolve function, to hold a call until the test lets it go. */
export function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

/** A container record as a details read (`GET /arvados/v1/containers/{uuid}`) answers it, complete and well formed; `over` replaces fields. */
export function detailsRecord(uuid: string, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    uuid,
    state: 'Queued',
    priority: 1,
    locked_by_uuid: null,
    runtime_constraints: { vcpus: 1, ram: 2 ** 30 },
    container_image: 'd41d8cd98f00b204e9800998ecf8427e+0',
    scheduling_parameters: {},
    created_at: '2026-01-01T00:00:00Z',
    mounts: {},
    ...over,
  };
}
