/**
 * A scheduler wired to the fakes, a manual clock and a log collector, for
 * one test each.
 */
import { ManualClock } from '../../src/clock/index.js';
import type { Cluster, InstanceType } from '../../src/config/types.js';
import { createLogger, LineCollector, type Logger } from '../../src/log.js';
import { Scheduler } from '../../src/scheduler/scheduler.js';
import { FakeClient, FakePool, FakeQueue, testCluster } from './fakes.js';

export * from './fakes.js';

export interface Harness {
  clock: ManualClock;
  cluster: Cluster;
  queue: FakeQueue;
  pool: FakePool;
  client: FakeClient;
  logs: LineCollector;
  logger: Logger;
  sch: Scheduler;
  type(i: number): InstanceType;
  /** The scheduling status the last pass gave `uuid`. */
  status(uuid: string): string | undefined;
}

export function harness(cluster: Cluster = testCluster()): Harness {
  const clock = new ManualClock();
  const logs = new LineCollector();
  const logger = createLogger({ stream: logs, level: 'debug', clock });
  const queue = new FakeQueue(clock, cluster);
  const pool = new FakePool(clock);
  const client = new FakeClient();
  const sch = new Scheduler({ queue, pool, client, cluster, clock, logger });
  return {
    clock,
    cluster,
    queue,
    pool,
    client,
    logs,
    logger,
    sch,
    type: (i) => cluster.InstanceTypes[`type${i}`],
    status: (u) => sch.queueView().find((e) => e.entry.container.uuid === u)?.schedulingStatus,
  };
}

/** Log lines whose message matches. */
export function logged(h: Harness, message: RegExp): Record<string, unknown>[] {
  return h.logs.records().filter((r) => message.test(String(r.msg)));
}
