/**
 * A `PostgreSQL.Connection` that leaves keywords out still names a database,
 * as it does for the reference's driver (lib/pq): the rest comes from the
 * PG* environment variables, then host localhost, port 5432 and the system
 * user name. Only an entirely empty Connection means "no dispatch lock".
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { systemClock } from '../../src/clock/index.js';
import { loadConfigText } from '../../src/config/load.js';
import { lockConfigured, newDispatchLock } from '../../src/dblock/daemon-lock.js';
import { pgClientConfig, type PgEnvironment } from '../../src/dblock/pg-config.js';
import { createLogger, LineCollector } from '../../src/log.js';
import { caOption } from '../../src/net/trust.js';

const ROOT = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEF';

function loadCluster(postgres: string) {
  return loadConfigText(`Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT}\n${postgres}`).cluster;
}

/** An environment with only these variables, run by system user `sysuser`. */
function environment(env: Record<string, string> = {}): PgEnvironment {
  return { env, osUser: () => 'sysuser' };
}

describe('PostgreSQL.Connection defaults (as lib/pq fills them in)', () => {
  it('a Connection with only user and dbname takes the lock, on localhost:5432 with TLS as sslmode require', () => {
    const cluster = loadCluster('    PostgreSQL:\n      Connection:\n        host: ""\n        user: arvados\n        dbname: arvados_production\n');
    assert.equal(lockConfigured(cluster), true);
    const { config } = pgClientConfig(cluster.PostgreSQL.Connection, environment());
    assert.equal(config.host, 'localhost');
    assert.equal(config.port, 5432);
    assert.equal(config.user, 'arvados');
    assert.equal(config.database, 'arvados_production');
    assert.deepEqual(config.ssl, { rejectUnauthorized: false });
  });

  it('an entirely empty Connection, or none, means no lock (the demo, the simulator, lame test clusters)', () => {
    assert.equal(lockConfigured(loadCluster('    PostgreSQL:\n      Connection:\n        host: ""\n        port: ""\n        SAMPLE: ""\n')), false);
    assert.equal(lockConfigured(loadCluster('    PostgreSQL:\n      ConnectionPool: 4\n')), false);
    assert.equal(lockConfigured(loadCluster('')), false);
  });

  it('takes unset keywords from the PG* variables; the Connection wins over them', () => {
    const env = environment({
      PGHOST: '/var/run/postgresql',
      PGPORT: '5433',
      PGUSER: 'envuser',
      PGPASSWORD: 'envpassword',
      PGDATABASE: 'envdb',
      PGAPPNAME: 'envapp',
      PGOPTIONS: '-c statement_timeout=0',
      PGCONNECT_TIMEOUT: '7',
      PGSSLMODE: 'verify-full',
    });
    const { config } = pgClientConfig({ user: 'arvados' }, env);
    assert.equal(config.host, '/var/run/postgresql');
    assert.equal(config.ssl, false, 'no TLS over the Unix socket PGHOST names');
    assert.equal(config.port, 5433);
    assert.equal(config.user, 'arvados');
    assert.equal(config.password, 'envpassword');
    assert.equal(config.database, 'envdb');
    assert.equal(config.application_name, 'envapp');
    assert.equal(config.options, '-c statement_timeout=0');
    assert.equal(config.connectionTimeoutMillis, 7000);

    const tcp = pgClientConfig({ host: 'db.example', dbname: 'arvados_production' }, env).config;
    assert.equal(tcp.host, 'db.example');
    assert.equal(tcp.database, 'arvados_production');
    assert.equal(tcp.user, 'envuser');
    assert.deepEqual(tcp.ssl, { rejectUnauthorized: true, ...caOption() }, 'PGSSLMODE=verify-full');
    assert.equal(pgClientConfig({ host: 'db.example', sslmode: 'disable' }, env).config.ssl, false, 'the Connection sslmode wins');
    assert.equal(pgClientConfig({ host: 'db.example', fallback_application_name: 'fb' }, env).config.application_name, 'envapp', 'PGAPPNAME over fallback_application_name, as lib/pq');
  });

  it('without a user anywhere uses the system user name, which the server also takes as the database; an empty variable is unset', () => {
    const { config } = pgClientConfig({ password: 'p' }, environment({ PGHOST: '', PGUSER: '' }));
    assert.equal(config.host, 'localhost');
    assert.equal(config.user, 'sysuser');
    assert.equal(config.database, 'sysuser');
  });

  it('refuses a PGSSLMODE or PGPORT it would misread, and an unreadable PGSSLROOTCERT, naming the variable', () => {
    assert.throws(() => pgClientConfig({ user: 'u' }, environment({ PGSSLMODE: 'prefer' })), {
      message: 'PGSSLMODE: expected one of disable, require, verify-ca, verify-full, got "prefer"',
    });
    assert.throws(() => pgClientConfig({ user: 'u' }, environment({ PGPORT: 'abc' })), { message: 'PGPORT: expected a port number, got "abc"' });
    const dir = mkdtempSync(join(tmpdir(), 'pg-env-'));
    try {
      const missing = join(dir, 'root.crt');
      assert.throws(() => pgClientConfig({ user: 'u' }, environment({ PGSSLROOTCERT: missing })), { message: `PGSSLROOTCERT: cannot read ${missing}: ENOENT` });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the daemon lock uses the given environment and logs which server it locks on, without the password', () => {
    const cluster = loadCluster('    PostgreSQL:\n      Connection:\n        user: arvados\n        password: secret-db-password\n');
    const lines = new LineCollector();
    const logger = createLogger({ level: 'info', stream: lines });
    assert.throws(() => newDispatchLock(cluster, { clock: systemClock, logger, environment: environment({ PGSSLMODE: 'allow' }) }), /^Error: PGSSLMODE: /);
    newDispatchLock(cluster, { clock: systemClock, logger, environment: environment({ PGPORT: '6432' }) });
    const record = lines.records().find((r) => r.msg === 'dispatch lock database');
    assert.ok(record, lines.lines.join('\n'));
    assert.deepEqual(
      { Host: record.Host, Port: record.Port, User: record.User, Database: record.Database },
      { Host: 'localhost', Port: 6432, User: 'arvados', Database: 'arvados' },
    );
    assert.ok(!lines.lines.join('\n').includes('secret-db-password'));
  });
});
