/**
 * `PostgreSQL.Connection` and `PostgreSQL.ConnectionPool`: read into the
 * cluster (libpq keywords, as the reference's defaults file spells them),
 * mapped onto node-postgres settings, and the password kept out of
 * check-config's output and the logs.
 */
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import winston from 'winston';
import { clusterToYAML, REDACTED } from '../../src/config/dump.js';
import { ConfigError, loadConfigText } from '../../src/config/load.js';
import { lockConfigured } from '../../src/dblock/daemon-lock.js';
import { pgClientConfig } from '../../src/dblock/pg-config.js';
import { dispatcherLogger } from '../../src/dispatcher.js';
import { LineCollector } from '../../src/log.js';
import { lockHealthProblem } from '../../src/http/lock-status.js';
import { caOption } from '../../src/net/trust.js';
import { selfSignedCertificate } from '../arvados/self-signed.js';
import { withSslCertFile } from '../fixtures/ssl-cert-file.js';

const ROOT = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEF';
const PASSWORD = 'db-password-0123456789';

function config(postgres: string): string {
  return `Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT}\n    PostgreSQL:\n${postgres}`;
}

describe('PostgreSQL config for the dispatch lock', () => {
  it('reads PostgreSQL.Connection libpq keywords and ConnectionPool, ignoring empty and unknown keys', () => {
    const { cluster } = loadConfigText(
      config(`      ConnectionPool: 8
      Connection:
        host: db.example
        port: 5433
        user: arvados
        password: ${PASSWORD}
        dbname: arvados_production
        SAMPLE: ""
        sslmode: ""
        client_encoding: utf8
        Application_Name: disp
`),
    );
    assert.deepEqual(cluster.PostgreSQL, {
      ConnectionPool: 8,
      Connection: { host: 'db.example', port: '5433', user: 'arvados', password: PASSWORD, dbname: 'arvados_production', client_encoding: 'utf8', application_name: 'disp' },
    });
    assert.equal(lockConfigured(cluster), true);
  });

  it('an empty PostgreSQL.Connection, as the reference defaults file leaves it, means no lock to take', () => {
    const { cluster } = loadConfigText(config(`      Connection:\n        host: ""\n        port: ""\n`));
    assert.deepEqual(cluster.PostgreSQL, { ConnectionPool: 32, Connection: {} });
    assert.equal(lockConfigured(cluster), false);
  });

  it('refuses an sslmode the reference driver refuses, and a port that is not a number, naming the key', () => {
    assert.throws(
      () => loadConfigText(config(`      Connection:\n        host: db\n        sslmode: prefer\n        port: abc\n`)),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.errors.includes('config: line 7: Clusters.zzzzz.PostgreSQL.Connection.sslmode: expected one of disable, require, verify-ca, verify-full, got "prefer"') &&
        err.errors.includes('config: line 8: Clusters.zzzzz.PostgreSQL.Connection.port: expected a port number, got "abc"'),
    );
  });

  it('refuses a Connection written as a libpq connection string rather than a map of keywords, naming the key', () => {
    assert.throws(
      () => loadConfigText(config(`      Connection: "host=db dbname=arvados"\n`)),
      (err: unknown) =>
        err instanceof ConfigError &&
        err.errors.includes('config: line 5: Clusters.zzzzz.PostgreSQL.Connection: expected a map of libpq keywords (host, port, user, password, dbname, ...) to values'),
    );
  });

  it('maps libpq keywords onto node-postgres settings; sslmode defaults to require without verification, as the reference', () => {
    const base = { host: 'db', port: '5433', user: 'u', password: 'p', dbname: 'd', connect_timeout: '3', client_encoding: 'utf8' };
    const { config: c, ignored } = pgClientConfig(base);
    assert.equal(c.host, 'db');
    assert.equal(c.port, 5433);
    assert.equal(c.user, 'u');
    assert.equal(c.password, 'p');
    assert.equal(c.database, 'd');
    assert.equal(c.connectionTimeoutMillis, 3000);
    assert.deepEqual(c.ssl, { rejectUnauthorized: false });
    assert.deepEqual(ignored, ['client_encoding']);
    assert.equal(pgClientConfig({ ...base, sslmode: 'disable' }).config.ssl, false);
    assert.deepEqual(pgClientConfig({ ...base, sslmode: 'verify-full' }).config.ssl, { rejectUnauthorized: true, ...caOption() });
    const verifyCa = pgClientConfig({ ...base, sslmode: 'verify-ca' }).config.ssl as { rejectUnauthorized: boolean; checkServerIdentity: unknown };
    assert.equal(verifyCa.rejectUnauthorized, true);
    assert.equal(typeof verifyCa.checkServerIdentity, 'function');
    assert.equal(pgClientConfig({ host: '/var/run/postgresql' }).config.ssl, false, 'no TLS over a Unix socket');
  });

  it('verifies the server against the CA file the reference would trust when sslrootcert is not given (lib/pq uses the system roots)', async () => {
    const site = selfSignedCertificate({ dnsName: 'db.example' }).cert;
    await withSslCertFile(site, (file) => {
      const base = { host: 'db.example', user: 'u', password: 'p', dbname: 'd' };
      const full = pgClientConfig({ ...base, sslmode: 'verify-full' }).config.ssl as { ca?: string[] };
      const last = full.ca?.at(-1);
      assert.ok(last !== undefined && new X509Certificate(last).fingerprint256 === new X509Certificate(site).fingerprint256, 'the site CA is trusted');
      const own = pgClientConfig({ ...base, sslmode: 'verify-full', sslrootcert: file }).config.ssl as { ca?: unknown };
      assert.equal(own.ca, site, 'sslrootcert alone when given');
      assert.deepEqual(pgClientConfig({ ...base, sslmode: 'require' }).config.ssl, { rejectUnauthorized: false }, 'require checks nothing');
    });
  });

  it('check-config shows the database password redacted', () => {
    const { cluster } = loadConfigText(config(`      Connection:\n        host: db\n        password: ${PASSWORD}\n`));
    const yaml = clusterToYAML(cluster);
    assert.ok(!yaml.includes(PASSWORD));
    assert.ok(yaml.includes(`password: "${REDACTED}"`) || yaml.includes(`password: ${REDACTED}`), yaml);
    assert.match(yaml, /host: db/);
  });

  it('the daemon logger scrubs the database password', () => {
    const { cluster } = loadConfigText(config(`      Connection:\n        host: db\n        password: ${PASSWORD}\n`));
    const lines = new LineCollector();
    const log = dispatcherLogger(cluster);
    log.clear();
    log.add(new winston.transports.Stream({ stream: lines }));
    log.info(`connection string password=${PASSWORD}`, { detail: `pw ${PASSWORD}` });
    assert.equal(lines.lines.length, 1);
    assert.ok(!lines.lines[0].includes(PASSWORD), lines.lines[0]);
  });

  it('names why the process is not dispatching in the health check', () => {
    assert.equal(lockHealthProblem({ state: 'held', detail: 'held', losses: 0 }), undefined);
    assert.match(lockHealthProblem({ state: 'waiting', detail: 'another process holds it (10.0.0.1:5000)', losses: 0 })!, /waiting for the dispatch lock: another process holds it \(10\.0\.0\.1:5000\)/);
    assert.match(lockHealthProblem({ state: 'lost', detail: 'lost: connection closed; taking it again', losses: 1 })!, /lost: connection closed/);
    assert.equal(
      lockHealthProblem({ state: 'settling', detail: "taken; waiting 5000 ms for any earlier holder's lease to run out", losses: 0 }),
      "not dispatching yet: dispatch lock taken; waiting 5000 ms for any earlier holder's lease to run out",
    );
    assert.equal(lockHealthProblem({ state: 'released', detail: 'released', losses: 0 }), 'not dispatching: the dispatch lock was released (stopping)');
  });
});
