/**
 * `Clusters.<id>.PostgreSQL`: where the cluster's database is. The daemon
 * uses it for one thing, the dispatch lock (`src/dblock/`), which every
 * Arvados dispatcher takes before dispatching.
 *
 * `Connection` is a map of libpq keywords (host, port, user, password,
 * dbname, sslmode, ...), shared with every Arvados service, so the reading
 * is lenient: keys are lower-cased and empty values dropped (as the
 * reference does when it builds its connection string), and keys this
 * daemon does not use are kept and ignored here. Only values it would
 * misread are errors: an sslmode it cannot honour, a port that is not a
 * port.
 */
import { int, isMap, readSection, readString, warnReferenceRefuses, type Path, type ReadContext } from './fields.js';
import { REFERENCE_CLUSTER_DEFAULTS } from './reference-defaults.js';
import type { PostgreSQLConfig } from './types.js';

/**
 * The sslmode values the reference's PostgreSQL driver accepts (an empty
 * one means `require` there). `prefer` and `allow`, libpq's fallbacks to
 * plain text, are refused there too.
 */
export const SSL_MODES = ['disable', 'require', 'verify-ca', 'verify-full'] as const;

const POSTGRESQL_FIELDS = { ConnectionPool: int(32) };

/** Compiles `PostgreSQL` (absent: no database configured, so no lock). */
export function compilePostgreSQL(ctx: ReadContext, raw: unknown, path: Path): PostgreSQLConfig {
  const section = isMap(raw) ? raw : {};
  if (raw !== undefined && raw !== null && !isMap(raw)) ctx.problems.error(path, 'expected a map of keys to values');
  const { ConnectionPool } = readSection(ctx, section, path, POSTGRESQL_FIELDS, { strict: false });
  const connPath = [...path, 'Connection'];
  const connRaw = section.Connection;
  const Connection: Record<string, string> = {};
  if (isMap(connRaw)) {
    warnCaseTwins(ctx, connPath, Object.keys(connRaw));
    for (const [key, value] of Object.entries(connRaw)) {
      if (value === undefined || value === null) continue;
      const text = readString(ctx, value, [...connPath, key]);
      if (text === undefined || text === '') continue;
      Connection[key.toLowerCase()] = text;
    }
  } else if (connRaw !== undefined && connRaw !== null) {
    ctx.problems.error(connPath, 'expected a map of libpq keywords (host, port, user, password, dbname, ...) to values');
  }
  for (const [keyword, value] of Object.entries(Connection)) {
    const problem = connectionValueProblem(keyword, value);
    if (problem) ctx.problems.error([...connPath, keyword], problem);
  }
  return { Connection, ConnectionPool };
}

/** The Connection keys of the reference's defaults, spelt as there; its loader merges a file's keys over them. */
const DEFAULT_CONNECTION_KEYS = Object.keys((REFERENCE_CLUSTER_DEFAULTS.PostgreSQL as { Connection: Record<string, unknown> }).Connection).filter((key) => key !== 'SAMPLE');

/**
 * The reference refuses a Connection with two keys that differ only in case,
 * counting those of its defaults, so a lone `Host` is refused there too
 * (here keys are lower-cased, the last one winning). Warns once about each
 * key not in lower case that has such a twin.
 */
function warnCaseTwins(ctx: ReadContext, path: Path, keys: readonly string[]): void {
  const spellings = new Map<string, Set<string>>();
  for (const key of [...DEFAULT_CONNECTION_KEYS, ...keys]) {
    const lower = key.toLowerCase();
    spellings.set(lower, (spellings.get(lower) ?? new Set()).add(key));
  }
  for (const key of keys) {
    const lower = key.toLowerCase();
    if (key === lower || spellings.get(lower)!.size < 2) continue;
    const twins = [...spellings.get(lower)!].filter((k) => k !== key && keys.includes(k));
    const why =
      twins.length === 0
        ? `its defaults have the key ${JSON.stringify(lower)}, and it refuses keys that differ only in case: write ${JSON.stringify(lower)}`
        : `it refuses keys that differ only in case (${[key, ...twins].map((k) => JSON.stringify(k)).join(' and ')}): write ${JSON.stringify(lower)}, once`;
    warnReferenceRefuses(ctx, [...path, key], why);
  }
}

/**
 * What is wrong with a libpq keyword's value this daemon would misread (an
 * sslmode it cannot honour, a port that is not a port), or undefined. Also
 * used for the values the dispatch lock takes from PG* variables.
 */
export function connectionValueProblem(keyword: string, value: string): string | undefined {
  if (keyword === 'sslmode' && !(SSL_MODES as readonly string[]).includes(value)) return `expected one of ${SSL_MODES.join(', ')}, got ${JSON.stringify(value)}`;
  if (keyword === 'port' && !/^\d{1,5}$/.test(value)) return `expected a port number, got ${JSON.stringify(value)}`;
  return undefined;
}
