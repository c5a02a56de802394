/**
 * How the dispatch lock shows to operators: in `/_health/ping` (unhealthy,
 * saying why, whenever the lock is not held: waiting for another process,
 * waiting out an earlier holder's lease, lost) and in /metrics:
 *
 * - `arvados_dispatchcloud_dispatch_lock_held` 1 while this process holds
 *   the lock and dispatches, else 0;
 * - `arvados_dispatchcloud_dispatch_lock_lost_total`: tenures of the lock
 *   that ended without being released.
 *
 * The management server serves whichever dispatcher is current through a
 * `DispatcherSource`; this builds the one for a dispatcher run under the lock.
 */
import { Counter, Gauge, Registry } from 'prom-client';
import type { Cluster } from '../config/types.js';
import type { LockStatus } from '../dblock/lock.js';
import type { Dispatcher } from '../dispatcher.js';
import type { Logger } from '../log.js';
import type { DispatcherSource } from './server.js';

/** The lock's metrics, on a registry of their own (they outlive each dispatcher's). */
export class DispatchLockMetrics {
  readonly registry = new Registry();

  constructor(status: () => LockStatus) {
    new Gauge({
      name: 'arvados_dispatchcloud_dispatch_lock_held',
      help: '1 while this process holds the dispatch lock (PostgreSQL advisory lock 10005) and dispatches; 0 while it waits for the lock, waits out an earlier holder, or has lost it.',
      registers: [this.registry],
      collect() {
        this.set(status().state === 'held' ? 1 : 0);
      },
    });
    new Counter({
      name: 'arvados_dispatchcloud_dispatch_lock_lost_total',
      help: 'Number of times the dispatch lock was lost (session ended, check failed or timed out) while held.',
      registers: [this.registry],
      collect() {
        this.reset();
        this.inc(status().losses);
      },
    });
  }
}

/** The health check's complaint about the lock, or undefined while it is held. */
export function lockHealthProblem(status: LockStatus): string | undefined {
  switch (status.state) {
    case 'held':
      return undefined;
    case 'waiting':
      return `not dispatching: waiting for the dispatch lock: ${status.detail}`;
    case 'settling':
      return `not dispatching yet: dispatch lock ${status.detail}`;
    case 'lost':
      return `not dispatching: dispatch lock ${status.detail}`;
    case 'released':
      return 'not dispatching: the dispatch lock was released (stopping)';
  }
}

/** The management server's view of a dispatcher run under the dispatch lock. */
export function lockedDispatcherSource(opts: {
  cluster: Cluster;
  logger: Logger;
  current: () => Dispatcher | undefined;
  status: () => LockStatus;
}): DispatcherSource {
  const metrics = new DispatchLockMetrics(opts.status);
  return {
    cluster: opts.cluster,
    logger: opts.logger,
    current: opts.current,
    notCurrent: () => lockHealthProblem(opts.status()) ?? 'not dispatching: starting',
    checkHealth() {
      const problem = lockHealthProblem(opts.status());
      if (problem) throw new Error(problem);
    },
    metricsText: () => metrics.registry.metrics(),
    metricsRegistry: metrics.registry,
  };
}
