/**
 * The reference's fallbacks to the environment variables Arvados services
 * were configured with before the config file: ARVADOS_API_TOKEN for an
 * empty SystemRootToken, https://$ARVADOS_API_HOST for a controller URL with
 * no host, ARVADOS_API_HOST_INSECURE (but "" or "0") for TLS.Insecure with
 * it; and the daemon's warnings about those set but not used.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { clusterJSON } from '../../src/arvados/cluster-json/cluster.js';
import { checkConfigCommand } from '../../src/config/check-config.js';
import { ConfigError, daemonConfigProblems, loadConfigText } from '../../src/config/load.js';
import { type LegacyEnv, unusedLegacyEnvWarnings } from '../../src/config/legacy-env.js';
import { loadDaemonConfig } from '../../src/daemon.js';
import { TOKEN } from './fixtures.js';

const ENV_TOKEN = 'envtoken0123456789abcdefghijklmnopqrstuv';
const OLD_WAY = '(an old way to configure Arvados services: set it in the config file)';

/** A cluster with what the daemon needs but `omit` (the token, the controller URL). */
function text(omit: { token?: boolean; url?: boolean } = {}, url = 'https://ctrl.example'): string {
  return [
    'Clusters:',
    '  zzzzz:',
    ...(omit.token ? [] : [`    SystemRootToken: ${TOKEN}`]),
    ...(omit.url ? [] : [`    Services: {Controller: {ExternalURL: "${url}"}}`]),
    '    Containers: {CloudVMs: {Driver: lame}}',
    '    InstanceTypes: {small: {ProviderType: t3.small, VCPUs: 1, RAM: 1GiB, Price: 0.01}}',
    '',
  ].join('\n');
}

function load(body: string, env: LegacyEnv) {
  return loadConfigText(body, { env });
}

describe('config: the old environment variables', () => {
  it('takes an empty SystemRootToken from ARVADOS_API_TOKEN, with a warning, as the token crunch-run gets too', () => {
    const { cluster, warnings } = load(text({ token: true }), { ARVADOS_API_TOKEN: ENV_TOKEN });
    assert.equal(cluster.SystemRootToken, ENV_TOKEN);
    assert.deepEqual(daemonConfigProblems(cluster), []);
    assert.ok(warnings.includes(`Clusters.zzzzz.SystemRootToken: empty, so taken from the ARVADOS_API_TOKEN environment variable ${OLD_WAY}`), warnings.join('\n'));
    assert.ok(!warnings.some((w) => w.includes(ENV_TOKEN)), 'the token is never quoted');
    assert.equal(JSON.parse(clusterJSON(cluster)).SystemRootToken, ENV_TOKEN);
  });

  it('takes an empty controller URL from ARVADOS_API_HOST, and TLS.Insecure from ARVADOS_API_HOST_INSECURE unless "" or "0"', () => {
    for (const [insecure, expected] of [
      [undefined, false],
      ['', false],
      ['0', false],
      ['1', true],
      ['false', true],
    ] as const) {
      const { cluster, warnings } = load(text({ url: true }), { ARVADOS_API_HOST: 'ctrl.example:8443', ARVADOS_API_HOST_INSECURE: insecure });
      assert.equal(cluster.Services.Controller.ExternalURL, 'https://ctrl.example:8443');
      assert.equal(cluster.TLS.Insecure, expected, `ARVADOS_API_HOST_INSECURE=${insecure}`);
      const also = expected ? ', and TLS.Insecure from ARVADOS_API_HOST_INSECURE' : '';
      assert.ok(
        warnings.includes(`Clusters.zzzzz.Services.Controller.ExternalURL: empty, so taken from the ARVADOS_API_HOST environment variable: https://ctrl.example:8443${also} ${OLD_WAY}`),
        warnings.join('\n'),
      );
    }
  });

  it('falls back for a controller URL with no host too, as the reference tests the host', () => {
    const { cluster } = load(text({}, 'https://'), { ARVADOS_API_HOST: 'ctrl.example' });
    assert.equal(cluster.Services.Controller.ExternalURL, 'https://ctrl.example');
  });

  it('uses none of them when the file has its own values, and ARVADOS_API_HOST_INSECURE only with the host', () => {
    const env = { ARVADOS_API_TOKEN: ENV_TOKEN, ARVADOS_API_HOST: 'other.example', ARVADOS_API_HOST_INSECURE: '1' };
    const { cluster, warnings } = load(text(), env);
    assert.equal(cluster.SystemRootToken, TOKEN);
    assert.equal(cluster.Services.Controller.ExternalURL, 'https://ctrl.example');
    assert.equal(cluster.TLS.Insecure, false);
    assert.ok(!warnings.some((w) => w.includes('environment variable')), warnings.join('\n'));
  });

  it('compares ARVADOS_API_HOST with the URL\'s host without its user info, as the reference\'s URL.Host', () => {
    // A user@ in ExternalURL is no other host: no "will not be used" warning for the host that is used.
    const env = { ARVADOS_API_HOST: 'ctrl.example' };
    const { cluster } = load(text({}, 'https://user@ctrl.example'), env);
    assert.deepEqual(unusedLegacyEnvWarnings(cluster, env), []);
  });

  it('uses none of them unless given an environment', () => {
    const { cluster } = loadConfigText(text({ token: true, url: true }));
    assert.equal(cluster.SystemRootToken, '');
    assert.equal(cluster.Services.Controller.ExternalURL, '');
  });

  it('checks what the fallback gave, as the reference does: a bad token or host is an error at the key', () => {
    try {
      load(text({ token: true, url: true }), { ARVADOS_API_TOKEN: 'not-a-token!', ARVADOS_API_HOST: 'bad host' });
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      assert.deepEqual(err.errors, [
        'Clusters.zzzzz.Services.Controller.ExternalURL: empty, and the ARVADOS_API_HOST environment variable ("bad host") is not a host[:port]',
        'Clusters.zzzzz.SystemRootToken: unacceptable characters in token (only a-z, A-Z, 0-9 are acceptable)',
      ]);
    }
  });

  describe('the daemon and check-config', () => {
    let dir: string;
    beforeEach(() => {
      dir = mkdtempSync(join(tmpdir(), 'legacy-env-'));
    });
    afterEach(() => rmSync(dir, { recursive: true }));

    function file(body: string): string {
      const path = join(dir, 'config.yml');
      writeFileSync(path, body);
      return path;
    }

    it('the daemon starts on the fallbacks, and warns about each variable set but not used, as the reference does', () => {
      const quiet = { write: () => true } as unknown as NodeJS.WritableStream;
      const started = loadDaemonConfig({ config: file(text({ token: true, url: true })), env: { ARVADOS_API_TOKEN: ENV_TOKEN, ARVADOS_API_HOST: 'ctrl.example' } }, quiet);
      assert.ok(started);
      assert.equal(started.cluster.Services.Controller.ExternalURL, 'https://ctrl.example');
      assert.ok(!started.warnings.some((w) => w.includes('will not be used')), started.warnings.join('\n'));

      const env = { ARVADOS_API_TOKEN: ENV_TOKEN, ARVADOS_API_HOST: 'other.example', ARVADOS_API_HOST_INSECURE: '1' };
      const unused = loadDaemonConfig({ config: file(text()), env }, quiet);
      assert.ok(unused);
      assert.deepEqual(
        unused.warnings.filter((w) => w.includes('will not be used')),
        [
          'ARVADOS_API_HOST environment variable is present, but will not be used',
          'ARVADOS_API_HOST_INSECURE environment variable is present, but will not be used',
          'ARVADOS_API_TOKEN environment variable is present, but will not be used',
        ],
      );
      const same = loadDaemonConfig({ config: file(text()), env: { ARVADOS_API_TOKEN: TOKEN, ARVADOS_API_HOST: 'ctrl.example', ARVADOS_API_HOST_INSECURE: '0' } }, quiet);
      assert.ok(same);
      assert.deepEqual(
        same.warnings.filter((w) => w.includes('environment variable')),
        [],
        'each the same as the config: nothing to say',
      );
    });

    it('check-config shows the fallbacks (a warning each), not the unused variables, which only the daemon reports', async () => {
      let out = '';
      let err = '';
      const io = { stdout: { write: (s: string) => ((out += s), true) }, stderr: { write: (s: string) => ((err += s), true) } };
      const code = await checkConfigCommand({ config: file(text({ url: true })), env: { ARVADOS_API_HOST: 'ctrl.example', ARVADOS_API_TOKEN: ENV_TOKEN } }, io);
      assert.equal(code, 1, err);
      assert.match(out, /ExternalURL: https:\/\/ctrl\.example/);
      assert.match(err, /^warning: Clusters\.zzzzz\.Services\.Controller\.ExternalURL: empty, so taken from the ARVADOS_API_HOST environment variable/m);
      assert.doesNotMatch(err, /will not be used/);
    });
  });
});
