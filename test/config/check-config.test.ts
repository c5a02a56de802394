import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { checkConfigCommand } from '../../src/config/check-config.js';
import { loadConfigFile, loadConfigText } from '../../src/config/load.js';
import { silentLogger } from '../../src/log.js';
import { generateSshKeyPair } from '../../src/ssh/keys.js';
import { dispatcherKeys } from '../../src/vm-access.js';
import { clusterForDisplay, clusterToYAML, redactParameters, REDACTED } from '../../src/config/dump.js';
import type { Cluster } from '../../src/config/types.js';
import { BAD_CONFIG } from './fixtures.js';
import { lineNumberOf } from './load-helpers.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const EXAMPLE = join(REPO, 'config.example.yml');

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** The old variables check-config falls back to, unset, so that the runs do not depend on the caller's environment. */
/** The line of the reference's default config where `pattern` matches. */
async function defaultsLineOf(pattern: RegExp): Promise<number> {
  return lineNumberOf(await readFile(join(REPO, '../shared/arvados-config.default.yml'), 'utf8'), pattern);
}

const NO_LEGACY_ENV = { ARVADOS_API_TOKEN: '', ARVADOS_API_HOST: '', ARVADOS_API_HOST_INSECURE: '' };

/** Runs the installed command from the repository root. */
function run(...args: string[]): Promise<Run> {
  return runWithEnv({}, ...args);
}

function runWithEnv(env: NodeJS.ProcessEnv, ...args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['scripts/from-sources.mjs', ...args], { cwd: REPO, env: { ...process.env, ...NO_LEGACY_ENV, ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

/** The first of the two YAML documents check-config prints: the cluster config (the settings file's follows). */
function clusterDocument(stdout: string): unknown {
  return parseAllDocuments(stdout)[0].toJS();
}

describe('check-config', function () {
  // Each run starts node and the TypeScript loader.
  this.timeout(30_000);

  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'check-config-'));
  });
  after(() => rmSync(dir, { recursive: true }));

  it('accepts config.example.yml: exit 0, YAML on stdout, no warnings, no secrets', async () => {
    const { cluster } = loadConfigFile(EXAMPLE);
    const r = await run('check-config', '--config', 'config.example.yml');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const out = clusterDocument(r.stdout) as { Clusters: Record<string, { Containers: { CloudVMs: Record<string, unknown> }; SystemRootToken: string }> };
    assert.deepEqual(Object.keys(out.Clusters), ['zzzzz']);
    assert.equal(out.Clusters.zzzzz.Containers.CloudVMs.Driver, 'lame');
    assert.equal(out.Clusters.zzzzz.SystemRootToken, REDACTED);
    for (const secret of [cluster.SystemRootToken, cluster.ManagementToken]) {
      assert.ok(secret.length > 0);
      assert.ok(!r.stdout.includes(secret) && !r.stderr.includes(secret), 'a token appears in the output');
    }
  });

  it('config-check is strict by default: warnings exit non-zero (1, as Arvados), after printing them and the compiled config', async () => {
    const r = await run('check-config', '--config', '../shared/arvados-config.default.yml');
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`^warning: \\.\\./shared/arvados-config\\.default\\.yml: line ${await defaultsLineOf(/^ {4}SystemRootToken:/m)}: Clusters\\.xxxxx\\.SystemRootToken: required to run the dispatcher, but empty$`, 'm'));
    assert.match(r.stderr, /warnings: not accepted in strict mode \(use --strict=false to accept them\)$/m);
    assert.match(r.stdout, /^ {6}StaleLockTimeout: 1m0s$/m);
    assert.match(r.stdout, /^ {6}ReserveExtraRAM: 550MiB$/m);
  });

  it('falls back to ARVADOS_API_TOKEN and ARVADOS_API_HOST from its environment for what the config leaves empty, as Arvados does', async () => {
    const r = await runWithEnv({ ARVADOS_API_TOKEN: 'envtoken0123456789abcdefghijklmnopqrstuv', ARVADOS_API_HOST: 'ctrl.example' }, 'check-config', '--config', '../shared/arvados-config.default.yml');
    assert.equal(r.code, 1, r.stderr);
    const line = await defaultsLineOf(/^ {4}SystemRootToken:/m);
    assert.match(r.stderr, new RegExp(`^warning: \\.\\./shared/arvados-config\\.default\\.yml: line ${line}: Clusters\\.xxxxx\\.SystemRootToken: empty, so taken from the ARVADOS_API_TOKEN environment variable`, 'm'));
    assert.doesNotMatch(r.stderr, /SystemRootToken: required to run the dispatcher/);
    assert.match(r.stdout, /^ {8}ExternalURL: https:\/\/ctrl\.example$/m);
  });

  it('--strict=false accepts warnings (exit 0), as --strict false and -strict=false do', async () => {
    for (const flags of [['--strict=false'], ['--strict', 'false'], ['--strict=0']]) {
      const r = await run('check-config', ...flags, '--config', '../shared/arvados-config.default.yml');
      assert.equal(r.code, 0, `${flags.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^warning: \S+: line \d+: Clusters\.xxxxx\.SystemRootToken: required to run the dispatcher, but empty$/m);
      assert.match(r.stdout, /^ {6}ReserveExtraRAM: 550MiB$/m);
    }
    const strict = await run('check-config', '--strict', '--config', '../shared/arvados-config.default.yml');
    assert.equal(strict.code, 1);
  });

  it('an unknown key is a warning under --strict=false, and fails the strict check', async () => {
    const file = join(dir, 'unknown-key.yml');
    const text = (await readFile(EXAMPLE, 'utf8')).replace(/^( +)CloudVMs:\n/m, '$1CloudVMs:\n$1  TimeoutIdel: 1m\n');
    writeFileSync(file, text);
    const strict = await run('check-config', '--config', file);
    assert.equal(strict.code, 1);
    // The file and the line of the key, so that an editor can go there.
    const line = lineNumberOf(text, /TimeoutIdel:/);
    assert.equal(strict.stderr.split('\n')[0], `warning: ${file}: line ${line}: Clusters.zzzzz.Containers.CloudVMs.TimeoutIdel: unknown key (did you mean TimeoutIdle?)`);
    const relaxed = await run('check-config', '--strict=false', '--config', file);
    assert.equal(relaxed.code, 0, relaxed.stderr);
  });

  it('rejects a bad config: exit 2 and every problem on stderr', async () => {
    const file = join(dir, 'bad.yml');
    writeFileSync(file, BAD_CONFIG);
    const r = await run('check-config', '--config', file);
    assert.equal(r.code, 2);
    assert.equal(r.stdout, '');
    for (const path of ['Clusters.zzzzz.Containers.CloudVMs.TimeoutIdle: ', 'Clusters.zzzzz.Containers.CloudVMs.TimeoutIdel: ', 'Clusters.zzzzz.InstanceTypes.foo.RAM: ']) {
      assert.ok(r.stderr.includes(path), `${path} missing from:\n${r.stderr}`);
    }
  });

  it('fails with exit 2 on a file it cannot read', async () => {
    const r = await run('--config', join(dir, 'missing.yml'), 'check-config');
    assert.equal(r.code, 2);
    assert.match(r.stderr, /missing\.yml: cannot read the config file: ENOENT/);
  });

  describe('DispatchPrivateKey, parsed as the daemon parses it at start', () => {
    /** config.example.yml with `pem` as its DispatchPrivateKey, written to a file. */
    async function exampleWithKey(name: string, pem: string): Promise<string> {
      const example = await readFile(EXAMPLE, 'utf8');
      const block = `DispatchPrivateKey: |\n${pem.trimEnd().replace(/^/gm, '        ')}\n`;
      assert.match(example, /^ {6}DispatchPrivateKey: ""\n/m);
      const file = join(dir, name);
      writeFileSync(file, example.replace(/DispatchPrivateKey: ""\n/, block));
      return file;
    }

    async function checkInProcess(file: string): Promise<{ code: number; stderr: string }> {
      let stderr = '';
      const out = { stdout: { write: () => true }, stderr: { write: (s: string) => ((stderr += s), true) } };
      return { code: await checkConfigCommand({ config: file }, out), stderr };
    }

    /** What the daemon's start says about the key in `file`, or undefined when it takes the key. */
    function daemonSays(file: string): string | undefined {
      try {
        dispatcherKeys(loadConfigFile(file).cluster, silentLogger());
        return undefined;
      } catch (err) {
        return (err as Error).message;
      }
    }

    it('refuses a key with a PEM header that does not parse, or that SSH cannot use, with the message the daemon refuses it with (exit 2)', async () => {
      const { privateKey: x25519 } = generateKeyPairSync('x25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
      for (const [name, pem, message] of [
        ['malformed.yml', '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n', 'cannot parse the private key: Malformed OpenSSH private key'],
        ['x25519.yml', x25519, 'a PKCS#8 x25519 key cannot be used for SSH here (use RSA, ECDSA or Ed25519)'],
      ]) {
        const file = await exampleWithKey(name, pem);
        const r = await checkInProcess(file);
        assert.equal(r.code, 2, r.stderr);
        // The daemon's words, after the file and the line of the key.
        const at = `${file}: line ${lineNumberOf(await readFile(file, 'utf8'), /^ {6}DispatchPrivateKey: \|$/m)}`;
        assert.equal(r.stderr, `${at}: Clusters.zzzzz.Containers.DispatchPrivateKey: ${message}\n1 error: the daemon would not start with this config\n`);
        assert.equal(r.stderr.split('\n')[0], `${at}: ${daemonSays(file)}`);
      }
    });

    it('accepts the keys the daemon takes: OpenSSH and PKCS#8', async () => {
      const { privateKey: pkcs8 } = generateKeyPairSync('ed25519', { privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
      for (const [name, pem] of [['openssh.yml', generateSshKeyPair().private], ['pkcs8.yml', pkcs8]]) {
        const file = await exampleWithKey(name, pem);
        assert.equal(daemonSays(file), undefined);
        const r = await checkInProcess(file);
        assert.equal(r.code, 0, r.stderr);
        assert.equal(r.stderr, '');
      }
    });
  });

  it('takes --cluster, before or after the subcommand', async () => {
    const file = join(dir, 'two.yml');
    writeFileSync(file, 'Clusters:\n  aaaaa: {}\n  bbbbb:\n    ManagementToken: b\n    Containers: {CloudVMs: {DriverParameters: {Region: us-east-1}}}\n    InstanceTypes: {small: {ProviderType: t3.small, VCPUs: 1, RAM: 1GiB, Price: 0.01}}\n');
    const without = await run('check-config', '--config', file);
    assert.equal(without.code, 2);
    assert.match(without.stderr, /several clusters \(aaaaa, bbbbb\)/);
    for (const args of [['check-config', '--strict=false', '--config', file, '--cluster', 'bbbbb'], ['--cluster', 'bbbbb', 'check-config', '--strict=false', '--config', file]]) {
      const r = await run(...args);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(Object.keys((clusterDocument(r.stdout) as { Clusters: object }).Clusters), ['bbbbb']);
    }
  });

  describe('output', () => {
    it('redacts secret-looking driver parameters at any depth, and keeps the others', () => {
      const params = {
        AccessKeyID: 'AKIAEXAMPLE',
        SecretAccessKey: 'secret1',
        ClientSecret: 'secret2',
        ServiceAccountKey: 'secret3',
        AuthToken: 'secret4',
        Password: 'secret5',
        EmptySecret: '',
        Region: 'us-east-1',
        Nested: { APIKey: 'secret6', Zone: 'a' },
        SubnetID: ['subnet-1'],
      };
      assert.deepEqual(redactParameters(params), {
        AccessKeyID: 'AKIAEXAMPLE',
        SecretAccessKey: REDACTED,
        ClientSecret: REDACTED,
        ServiceAccountKey: REDACTED,
        AuthToken: REDACTED,
        Password: REDACTED,
        EmptySecret: '',
        Region: 'us-east-1',
        Nested: { APIKey: REDACTED, Zone: 'a' },
        SubnetID: ['subnet-1'],
      });
    });

    it('redacts the tokens and the private key, and leaves empty ones empty', () => {
      const { cluster } = loadConfigFile(EXAMPLE);
      const withKey: Cluster = { ...cluster, ManagementToken: '', Containers: { ...cluster.Containers, DispatchPrivateKey: '-----BEGIN OPENSSH PRIVATE KEY-----\nx\n' } };
      const shown = (clusterForDisplay(withKey).Clusters as Record<string, Record<string, unknown>>).zzzzz;
      assert.equal(shown.SystemRootToken, REDACTED);
      assert.equal(shown.ManagementToken, '');
      assert.equal((shown.Containers as Record<string, unknown>).DispatchPrivateKey, REDACTED);
    });

    it('loads back to the same cluster (secrets apart), with no warning about the preemptible variants it shows', () => {
      const { cluster } = loadConfigFile(EXAMPLE);
      const noSecrets: Cluster = { ...cluster, SystemRootToken: '', ManagementToken: '' };
      const { cluster: again, warnings } = loadConfigText(clusterToYAML(noSecrets));
      // A computed price is shown without its float noise, and the variant shown is
      // recognised as the one PreemptiblePriceFactor makes, which then replaces it.
      const prices = Object.values(noSecrets.InstanceTypes).map((t) => t.Price);
      assert.ok(prices.some((p) => String(p).length > 17), `the example has a price with float noise: ${prices.join(', ')}`);
      assert.deepEqual(again, noSecrets);
      // Only about the tokens this test emptied.
      assert.deepEqual(warnings.map((w) => /Clusters\.zzzzz\.(\w+)/.exec(w)?.[1]).sort(), ['ManagementToken', 'SystemRootToken'], warnings.join('\n'));
    });

    it('shows a price computed from the file as the decimal it is meant to be (0.4 x 0.2 as 0.08, not 0.08000000000000002)', () => {
      const { cluster } = loadConfigText(`Clusters:\n  zzzzz:\n    Containers: {PreemptiblePriceFactor: 0.2}\n    InstanceTypes:\n      a: {VCPUs: 1, RAM: 1GiB, Price: 0.4}\n`);
      assert.equal(cluster.InstanceTypes['a.preemptible'].Price, 0.4 * 0.2);
      assert.match(clusterToYAML(cluster), /^ {6}a\.preemptible:\n(?: {8}.*\n)*? {8}Price: 0\.08\n/m);
    });

    it('shows a TLS.Key that names a file (a path or a file:// URL), and redacts one that may be the key itself', () => {
      const { cluster } = loadConfigFile(EXAMPLE);
      const keyShown = (Key: string): unknown => ((clusterForDisplay({ ...cluster, TLS: { ...cluster.TLS, Key } }).Clusters as Record<string, Record<string, Record<string, unknown>>>).zzzzz.TLS).Key;
      assert.equal(keyShown('/etc/arvados/tls.key'), '/etc/arvados/tls.key');
      assert.equal(keyShown('file:///etc/arvados/tls.key'), 'file:///etc/arvados/tls.key');
      assert.equal(keyShown('-----BEGIN PRIVATE KEY-----\nx\n'), REDACTED);
    });

    it('loads back without a warning: a type shows no Name or Scratch key, which a file does not write', () => {
      const { cluster } = loadConfigText(`Clusters:\n  zzzzz:\n    InstanceTypes:\n      a: {VCPUs: 1, RAM: 1GiB, IncludedScratch: 10GB, AddedScratch: 5GB}\n`);
      const { cluster: again, warnings } = loadConfigText(clusterToYAML(cluster));
      assert.deepEqual(warnings.filter((w) => w.includes('InstanceTypes')), []);
      assert.equal(again.InstanceTypes.a.Scratch, 15e9);
    });
  });
});
