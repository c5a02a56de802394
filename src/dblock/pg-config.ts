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
 *
 * Keywords the connection leaves out are filled in as the reference's driver
 * (lib/pq) fills them in: from the PG* environment variables, then host
 * `localhost`, port 5432 and the system user name. So a config naming only
 * `user` and `dbname` locks on the local server, as the reference does.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import type { ConnectionOptions } from 'node:tls';
import type { ClientConfig } from 'pg';
import { connectionValueProblem } from '../config/postgresql.js';
import { caOption } from '../net/trust.js';

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

/**
 * The environment variables lib/pq reads, for the keywords this mapping
 * understands. (lib/pq also reads a few it only passes to the server, and
 * refuses to start on others, such as PGSERVICE; neither kind is read here.)
 */
const ENV_KEYWORDS: ReadonlyArray<readonly [variable: string, keyword: string]> = [
  ['PGHOST', 'host'],
  ['PGPORT', 'port'],
  ['PGDATABASE', 'dbname'],
  ['PGUSER', 'user'],
  ['PGPASSWORD', 'password'],
  ['PGOPTIONS', 'options'],
  ['PGAPPNAME', 'application_name'],
  ['PGSSLMODE', 'sslmode'],
  ['PGSSLCERT', 'sslcert'],
  ['PGSSLKEY', 'sslkey'],
  ['PGSSLROOTCERT', 'sslrootcert'],
  ['PGCONNECT_TIMEOUT', 'connect_timeout'],
];

/** What the connection's unset keywords come from; injected so tests need not touch process.env. */
export interface PgEnvironment {
  env: Readonly<Record<string, string | undefined>>;
  /** The system's name for the user the daemon runs as (lib/pq's last resort for `user`). */
  osUser(): string | undefined;
}

/** The daemon's own environment and user. */
export function processPgEnvironment(): PgEnvironment {
  return {
    env: process.env,
    osUser: () => {
      try {
        return userInfo().username;
      } catch {
        // No passwd entry for this uid: lib/pq then falls back to $USER too.
        return process.env.USER || undefined;
      }
    },
  };
}

/** Keyword values after the fallbacks, and where each came from (for error messages). */
interface Resolved {
  values: Record<string, string>;
  source: Record<string, string>;
}

/**
 * The connection's keywords over the environment's over lib/pq's defaults.
 * An empty variable counts as unset (lib/pq would keep it, and then fail on
 * it, or dial the local host for an empty PGHOST).
 */
function resolve(conn: Record<string, string>, environment: PgEnvironment): Resolved {
  const values: Record<string, string> = { host: 'localhost', port: '5432' };
  const source: Record<string, string> = { host: 'the default host', port: 'the default port' };
  for (const [variable, keyword] of ENV_KEYWORDS) {
    const value = environment.env[variable];
    if (value === undefined || value === '') continue;
    values[keyword] = value;
    source[keyword] = variable;
  }
  for (const [keyword, value] of Object.entries(conn)) {
    values[keyword] = value;
    source[keyword] = `PostgreSQL.Connection.${keyword}`;
  }
  if (values.user === undefined) {
    const user = environment.osUser();
    if (user) {
      values.user = user;
      source.user = 'the system user name';
    }
  }
  // The config loader checks these for PostgreSQL.Connection; an environment variable gets the same check here.
  for (const keyword of ['sslmode', 'port']) {
    const problem = values[keyword] === undefined ? undefined : connectionValueProblem(keyword, values[keyword]);
    if (problem) throw new Error(`${source[keyword]}: ${problem}`);
  }
  return { values, source };
}

export interface PgSettings {
  config: ClientConfig;
  /** Keywords given but not used (their names only: values may be secret). */
  ignored: string[];
}

/** The application name the server shows in pg_stat_activity unless the config names one. */
export const APPLICATION_NAME = 'arvados-dispatch-cloud';

/**
 * Maps libpq keywords, with lib/pq's fallbacks, to a node-postgres
 * ClientConfig; throws naming the keyword or variable for a value it
 * cannot use or a file it cannot read.
 */
export function pgClientConfig(conn: Record<string, string>, environment: PgEnvironment = processPgEnvironment()): PgSettings {
  const { values: v, source } = resolve(conn, environment);
  const config: ClientConfig = {
    host: v.host,
    port: Number(v.port),
    user: v.user,
    password: v.password,
    // lib/pq sends no dbname then, and the server takes the user name. Naming it here keeps
    // node-postgres from reading process.env.PGDATABASE behind an injected environment.
    // (It still reads PGPASSWORD, then ~/.pgpass, for an unset password, as lib/pq does.)
    database: v.dbname ?? v.user,
    application_name: v.application_name ?? v.fallback_application_name ?? APPLICATION_NAME,
    options: v.options,
    keepAlive: true,
  };
  if (v.connect_timeout !== undefined && Number(v.connect_timeout) > 0) {
    config.connectionTimeoutMillis = Number(v.connect_timeout) * 1000;
  }
  config.ssl = sslSettings(v, source);
  return { config, ignored: Object.keys(conn).filter((k) => !KNOWN.has(k)) };
}

function sslSettings(v: Record<string, string>, source: Record<string, string>): false | ConnectionOptions {
  const mode = v.sslmode ?? 'require';
  if (mode === 'disable' || v.host.startsWith('/')) return false;
  const tls: ConnectionOptions = {};
  if (v.sslrootcert) tls.ca = readPem(v.sslrootcert, source.sslrootcert);
  if (v.sslcert) tls.cert = readPem(v.sslcert, source.sslcert);
  if (v.sslkey) tls.key = readPem(v.sslkey, source.sslkey);
  const verify = mode === 'verify-full' || mode === 'verify-ca' || (mode === 'require' && v.sslrootcert !== undefined);
  tls.rejectUnauthorized = verify;
  // Without sslrootcert, lib/pq verifies against Go's system roots; ours are the same file's (net/trust.ts).
  if (verify && !v.sslrootcert) Object.assign(tls, caOption());
  // verify-ca (and require with a root certificate) trusts the chain whatever name the certificate carries.
  if (verify && mode !== 'verify-full') tls.checkServerIdentity = () => undefined;
  return tls;
}

function readPem(file: string, source: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new Error(`${source}: cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}
