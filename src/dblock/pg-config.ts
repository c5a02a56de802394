/**
 * `PostgreSQL.Connection` (libpq keywords) as node-postgres client settings.
 *
 * sslmode follows the reference's PostgreSQL driver, whose default is not
 * libpq's: absent or `require` means TLS without checking the certificate
 * (checking it against `sslrootcert` when one is given); `verify-ca` checks
 * the chain; `verify-full` the chain and the host name; `disable` no TLS.
 * A `host` that is a directory (`/var/run/postgresql`) means a Unix socket,
 * over which TLS is not used. Keywords without a node-postgres counterpart
 * are reported back so the daemon can say they are ignored.
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import type { ClientConfig } from 'pg';

/** Keywords this mapping understands. */
const KNOWN = new Set([
  'host',
  'port',
  'user',
  'password',
  'dbname',
  'sslmode',
  'sslrootcert',
  'sslcert',
  'sslkey',
  'connect_timeout',
  'application_name',
  'fallback_application_name',
  'options',
]);

export interface PgSettings {
  config: ClientConfig;
  /** Keywords given but not used (their names only: values may be secret). */
  ignored: string[];
}

/** The application name the server shows in pg_stat_activity unless the config names one. */
export const APPLICATION_NAME = 'arvados-dispatch-cloud';

/** Maps libpq keywords to a node-postgres ClientConfig; throws naming the keyword for a file it cannot read. */
export function pgClientConfig(conn: Record<string, string>): PgSettings {
  const config: ClientConfig = {
    host: conn.host,
    port: conn.port !== undefined ? Number(conn.port) : undefined,
    user: conn.user,
    password: conn.password,
    database: conn.dbname,
    application_name: conn.application_name ?? conn.fallback_application_name ?? APPLICATION_NAME,
    options: conn.options,
    keepAlive: true,
  };
  if (conn.connect_timeout !== undefined && Number(conn.connect_timeout) > 0) {
    config.connectionTimeoutMillis = Number(conn.connect_timeout) * 1000;
  }
  config.ssl = sslSettings(conn);
  return { config, ignored: Object.keys(conn).filter((k) => !KNOWN.has(k)) };
}

function sslSettings(conn: Record<string, string>): false | ConnectionOptions {
  const mode = conn.sslmode ?? 'require';
  if (mode === 'disable' || (conn.host ?? '').startsWith('/')) return false;
  const tls: ConnectionOptions = {};
  if (conn.sslrootcert) tls.ca = readPem(conn, 'sslrootcert');
  if (conn.sslcert) tls.cert = readPem(conn, 'sslcert');
  if (conn.sslkey) tls.key = readPem(conn, 'sslkey');
  const verify = mode === 'verify-full' || mode === 'verify-ca' || (mode === 'require' && conn.sslrootcert !== undefined);
  tls.rejectUnauthorized = verify;
  // verify-ca (and require with a root certificate) trusts the chain whatever name the certificate carries.
  if (verify && mode !== 'verify-full') tls.checkServerIdentity = () => undefined;
  return tls;
}

function readPem(conn: Record<string, string>, key: 'sslrootcert' | 'sslcert' | 'sslkey'): string {
  try {
    return readFileSync(conn[key], 'utf8');
  } catch (err) {
    throw new Error(`PostgreSQL.Connection.${key}: cannot read ${conn[key]}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
