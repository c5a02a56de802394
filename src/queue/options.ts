/**
 * What the container queue is built from: the controller client it needs
 * (a few calls; tests may pass an object literal) and its options, with
 * their defaults.
 */
import type { ControllerClient } from '../arvados/client.js';
import type { Container } from '../arvados/types.js';
import type { Clock } from '../clock/index.js';
import type { Cluster, InstanceType } from '../config/types.js';
import type { Logger } from '../log.js';
import type { QueueTimeline } from '../timeline/sink.js';

/** What the queue needs of the controller client; tests may pass an object literal. */
export type QueueClient = Pick<
  ControllerClient,
  'currentTokenUuid' | 'listContainers' | 'getContainer' | 'lockContainer' | 'unlockContainer' | 'updateContainer'
>;

export interface ContainerQueueOptions {
  client: QueueClient;
  cluster: Cluster;
  clock: Clock;
  logger: Logger;
  /** Eligible types, cheapest first; throws if none. Default `chooseInstanceTypes(cluster, c)`. */
  chooseTypes?: (container: Container) => InstanceType[];
  /** Items per list request. Default 1000 (the controller's usual cap). */
  pageSize?: number;
  /** Uuids per `uuid in [...]` request. Default 100. */
  batchSize?: number;
  /** List requests of the backlog sweep per poll (see `poll.ts`). Default 2. */
  sweepPages?: number;
  /** At most this many requests read the head of the queued list. Default 10. */
  headPages?: number;
  /** At most this many tracked containers (besides ours) checked by uuid per poll. Default 1000. */
  checksPerPoll?: number;
  /** At most this many requests read the list of ours per poll (a list that never ends fails the poll). Default 1000. */
  maxListPages?: number;
  /**
   * New containers whose details are read per poll: ours and the head's
   * always, then others, highest priority first, up to this many in all.
   * Default 1000 (what the reference reads on its first poll).
   */
  detailsPerPoll?: number;
  /** Details reads in flight at once. Default 8. */
  detailsConcurrency?: number;
  /** Back-off of the unsatisfiable-container cancel: first retry, and the most it grows to. */
  unsatisfiableRetryMs?: { first: number; max: number };
  /** Told of every entry added or changed (the container timeline). */
  timeline?: QueueTimeline;
}
