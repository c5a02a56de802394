/**
 * libpq keywords the mapping to node-postgres settings honours beyond the
 * common ones: fallback_application_name, sslmode require with a root
 * certificate, client certificates, and the ignored-keyword warning.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock } from '../../src/clock/index.js';
import { loadConfigText } from '../../src/config/index.js';
import { newDispatchLock } from '../../src/dblock/daemon-lock.js';
import { APPLICATION_NAME, pgClientConfig, type PgEnvironment } from '../../src/dblock/pg-config.js';
import { createLogger, LineCollector } from '../../src/log.js';

const NO_ENV: PgEnvironment = { env: {}, osUser: () => 'nobody' };

describe('PostgreSQL.Connection keywords', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'pg-keywords-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string): string => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return path;
  };

  it('application_name, else fallback_application_name, else arvados-dispatch-cloud', () => {
    const base = { host: 'db', user: 'u' };
    assert.equal(pgClientConfig(base, NO_ENV).config.application_name, APPLICATION_NAME);
    assert.equal(pgClientConfig({ ...base, fallback_application_name: 'site-dispatcher' }, NO_ENV).config.application_name, 'site-dispatcher');
    assert.equal(pgClientConfig({ ...base, fallback_application_name: 'site-dispatcher', application_name: 'named' }, NO_ENV).config.application_name, 'named');
  });

  it('sslmode require with sslrootcert checks the chain against that file (as lib/pq does), but not the host name', () => {
    const ca = file('root.pem', 'ROOT CERTIFICATE');
    const ssl = pgClientConfig({ host: 'db', user: 'u', sslmode: 'require', sslrootcert: ca }, NO_ENV).config.ssl as {
      ca?: unknown;
      rejectUnauthorized?: boolean;
      checkServerIdentity?: () => undefined;
    };
    assert.equal(ssl.ca, 'ROOT CERTIFICATE');
    assert.equal(ssl.rejectUnauthorized, true);
    assert.equal(typeof ssl.checkServerIdentity, 'function');
    assert.equal(ssl.checkServerIdentity!(), undefined);
  });

  it('sslcert and sslkey: the client certificate and key are read from their files; one that cannot be read is named', () => {
    const cert = file('client.crt', 'CLIENT CERTIFICATE');
    const key = file('client.key', 'CLIENT KEY');
    const ssl = pgClientConfig({ host: 'db', user: 'u', sslcert: cert, sslkey: key }, NO_ENV).config.ssl as { cert?: unknown; key?: unknown };
    assert.equal(ssl.cert, 'CLIENT CERTIFICATE');
    assert.equal(ssl.key, 'CLIENT KEY');
    assert.throws(() => pgClientConfig({ host: 'db', user: 'u', sslcert: join(dir, 'missing.crt') }, NO_ENV), /^Error: PostgreSQL\.Connection\.sslcert: cannot read .*missing\.crt: ENOENT$/);
  });

  it('the daemon lock warns about keywords it does not use, naming them but not their values', () => {
    const cluster = loadConfigText(`
Clusters:
  zzzzz:
    PostgreSQL:
      Connection:
        host: db
        user: u
        client_encoding: secret-looking-value
        target_session_attrs: read-write
`).cluster;
    const lines = new LineCollector();
    newDispatchLock(cluster, { clock: new ManualClock(), logger: createLogger({ level: 'info', stream: lines }), environment: NO_ENV });
    const warning = lines.records().find((r) => r.msg === 'PostgreSQL.Connection: these keywords are not used by this dispatcher');
    assert.ok(warning, lines.lines.join('\n'));
    assert.equal(warning.level, 'warning');
    assert.deepEqual(warning.Keywords, ['client_encoding', 'target_session_attrs']);
    assert.ok(!lines.lines.join('\n').includes('secret-looking-value'));
  });
});
