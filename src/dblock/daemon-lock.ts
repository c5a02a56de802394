/**
 * The daemon's side of the dispatch lock: whether there is a database to
 * lock in, and the lock built from the cluster's `PostgreSQL.Connection`.
 */
import pg from 'pg';
import type { Clock } from '../clock/index.js';
import type { Cluster } from '../config/types.js';
import type { Logger } from '../log.js';
import { DispatchLock, type LockStatus } from './lock.js';
import { pgClientConfig } from './pg-config.js';

/** Without `PostgreSQL.Connection.host` there is no database to lock in (the demo, the simulator, a lame-cloud test cluster). */
export function lockConfigured(cluster: Cluster): boolean {
  return (cluster.PostgreSQL.Connection.host ?? '') !== '';
}

/** The dispatch lock on the cluster's database; throws (naming the key) for a TLS file it cannot read. */
export function newDispatchLock(cluster: Cluster, opts: { clock: Clock; logger: Logger; onChange?: (s: LockStatus) => void }): DispatchLock {
  const { config, ignored } = pgClientConfig(cluster.PostgreSQL.Connection);
  const logger = opts.logger.child({ Component: 'dispatch-lock' });
  if (ignored.length > 0) {
    logger.warn('PostgreSQL.Connection: these keywords are not used by this dispatcher', { Keywords: ignored });
  }
  return new DispatchLock({
    newClient: () => new pg.Client(config),
    clock: opts.clock,
    logger,
    onChange: opts.onChange,
  });
}
