/**
 * The daemon's side of the dispatch lock: whether there is a database to
 * lock in, and the lock built from the cluster's `PostgreSQL.Connection`.
 */
import pg from 'pg';
import type { Clock } from '../clock/index.js';
import type { Cluster } from '../config/types.js';
import type { Logger } from '../log.js';
import { DispatchLock, type LockStatus } from './lock.js';
import { pgClientConfig, type PgEnvironment } from './pg-config.js';

/**
 * Whether there is a database to lock in. Only an entirely empty
 * `PostgreSQL.Connection` says there is none (the demo, the simulator, a
 * lame-cloud test cluster; the loader drops empty values, so the defaults
 * file's `host: ""` is empty). Any keyword at all means there is one: the
 * reference then connects with the rest defaulted (host localhost, the PG*
 * environment variables) and always takes the lock, so this daemon must too,
 * or the two could dispatch side by side during a switch.
 */
export function lockConfigured(cluster: Cluster): boolean {
  return Object.keys(cluster.PostgreSQL.Connection).length > 0;
}

/**
 * The dispatch lock on the cluster's database; throws (naming the key or
 * environment variable) for a value it cannot use or a TLS file it cannot
 * read. `environment` stands in for the process's PG* variables in tests.
 */
export function newDispatchLock(
  cluster: Cluster,
  opts: { clock: Clock; logger: Logger; onChange?: (s: LockStatus) => void; environment?: PgEnvironment },
): DispatchLock {
  const { config, ignored } = pgClientConfig(cluster.PostgreSQL.Connection, opts.environment);
  const logger = opts.logger.child({ Component: 'dispatch-lock' });
  if (ignored.length > 0) {
    logger.warn('PostgreSQL.Connection: these keywords are not used by this dispatcher', { Keywords: ignored });
  }
  // The config may name neither host nor port (they default as in libpq), so say which server this is.
  logger.info('dispatch lock database', { Host: config.host, Port: config.port, User: config.user, Database: config.database });
  return new DispatchLock({
    newClient: () => new pg.Client(config),
    clock: opts.clock,
    logger,
    onChange: opts.onChange,
  });
}
