/**
 * Values this daemon takes from config.yml but the reference dispatcher
 * refuses at start, or reads otherwise: each is a warning (so check-config,
 * strict by default, fails on it, and the daemon still starts), one per key,
 * saying what the reference does, for a site that may switch back to it.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkConfigCommand } from '../../src/config/check-config.js';
import { loadUnlocated as loadConfigText, problemPath } from './load-helpers.js';
import { loadDaemonConfig } from '../../src/daemon.js';
import { generateSshKeyPair } from '../../src/ssh/keys.js';
import { wholeDefaultConfig } from './fixtures.js';

const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const REFUSES = 'the reference dispatcher refuses this';
const SWITCH_BACK = 'switching back to it would fail to start';

/** A config of one cluster, zzzzz, with `body` (indented by four spaces) as its section. */
function cluster(body: string): string {
  return `Clusters:\n  zzzzz:\n${body}`;
}

/** The loader's warnings about `text` that start with a YAML path under `under`. */
function warningsUnder(text: string, under: string): string[] {
  return loadConfigText(text).warnings.filter((w) => w.startsWith(under));
}

describe('config values the reference dispatcher refuses or reads otherwise', () => {
  describe('a YAML number or boolean where the reference expects a string', () => {
    it('is taken as written, with one warning per key saying that the reference refuses it and how to write it', () => {
      const text = cluster(
        [
          '    Containers:',
          '      CloudVMs:',
          '        SSHPort: 22',
          '        ImageID: 123',
          '        Driver: lame',
          '        TagKeyPrefix: yes',
          '    PostgreSQL:',
          '      Connection:',
          '        host: db',
          '        port: 5432',
          '    InstanceTypes:',
          '      a:',
          '        VCPUs: 1',
          '        RAM: 1GiB',
          '        GPU: {Stack: cuda, DriverVersion: 12.0, HardwareTarget: "8.0", DeviceCount: 1, VRAM: 8GiB}',
          '',
        ].join('\n'),
      );
      const { cluster: c, warnings } = loadConfigText(text);
      assert.equal(c.Containers.CloudVMs.SSHPort, '22');
      assert.equal(c.Containers.CloudVMs.ImageID, '123');
      assert.equal(c.Containers.CloudVMs.TagKeyPrefix, 'yes');
      assert.equal(c.PostgreSQL.Connection.port, '5432');
      assert.equal(c.InstanceTypes.a.GPU.DriverVersion, '12.0');
      assert.deepEqual(
        warnings.filter((w) => w.includes(REFUSES)),
        [
          `Clusters.zzzzz.Containers.CloudVMs.SSHPort: ${REFUSES} (22 is a YAML number, and it expects a string here: write it quoted, "22"); ${SWITCH_BACK}`,
          `Clusters.zzzzz.Containers.CloudVMs.ImageID: ${REFUSES} (123 is a YAML number, and it expects a string here: write it quoted, "123"); ${SWITCH_BACK}`,
          `Clusters.zzzzz.Containers.CloudVMs.TagKeyPrefix: ${REFUSES} (yes is a YAML boolean, and it expects a string here: write it quoted, "yes"); ${SWITCH_BACK}`,
          `Clusters.zzzzz.InstanceTypes.a.GPU.DriverVersion: ${REFUSES} (12.0 is a YAML number, and it expects a string here: write it quoted, "12.0"); ${SWITCH_BACK}`,
          `Clusters.zzzzz.PostgreSQL.Connection.port: ${REFUSES} (5432 is a YAML number, and it expects a string here: write it quoted, "5432"); ${SWITCH_BACK}`,
        ],
      );
    });

    it('gives no warning when quoted', () => {
      const text = cluster('    Containers:\n      CloudVMs:\n        SSHPort: "22"\n        ImageID: \'123\'\n    PostgreSQL:\n      Connection: {host: db, port: "5432"}\n');
      assert.deepEqual(loadConfigText(text).warnings.filter((w) => w.includes(REFUSES)), []);
    });
  });

  describe('PostgreSQL.Connection keys that differ only in case', () => {
    const connection = (lines: string): string => cluster(`    PostgreSQL:\n      Connection:\n${lines}`);
    const under = 'Clusters.zzzzz.PostgreSQL.Connection.';

    it('a key spelt otherwise than a key of the reference defaults (host, port, user, password, dbname) is refused there, even alone', () => {
      assert.deepEqual(warningsUnder(connection('        Host: db\n        DBName: arvados\n'), under), [
        `${under}Host: ${REFUSES} (its defaults have the key "host", and it refuses keys that differ only in case: write "host"); ${SWITCH_BACK}`,
        `${under}DBName: ${REFUSES} (its defaults have the key "dbname", and it refuses keys that differ only in case: write "dbname"); ${SWITCH_BACK}`,
      ]);
      assert.equal(loadConfigText(connection('        Host: db\n')).cluster.PostgreSQL.Connection.host, 'db', 'this daemon reads it');
    });

    it('two spellings of one keyword in the file: a warning on the one not in lower case', () => {
      assert.deepEqual(warningsUnder(connection('        sslmode: require\n        SSLMode: disable\n'), under), [
        `${under}SSLMode: ${REFUSES} (it refuses keys that differ only in case ("SSLMode" and "sslmode"): write "sslmode", once); ${SWITCH_BACK}`,
      ]);
    });

    it('no warning for keys in lower case, nor for a lone key of another case that the defaults do not have', () => {
      assert.deepEqual(warningsUnder(connection('        host: db\n        dbname: arvados\n        SSLMode: require\n'), under), []);
    });
  });

  describe('a quoted size without a unit', () => {
    const sized = (scratch: string): string => cluster(`    InstanceTypes:\n      a:\n        VCPUs: 1\n        RAM: 1GiB\n        IncludedScratch: ${scratch}\n`);
    const path = 'Clusters.zzzzz.InstanceTypes.a.IncludedScratch';

    it('is read as 0 by the reference, and as the number here: a warning says so, and how to write it for both', () => {
      const { cluster: c } = loadConfigText(sized('"8589934592"'));
      assert.equal(c.InstanceTypes.a.IncludedScratch, 8589934592);
      assert.deepEqual(warningsUnder(sized('"8589934592"'), path), [
        `${path}: the reference dispatcher reads "8589934592" as 0 (a quoted size without a unit), where this daemon reads 8589934592 bytes; write it with a unit, "8GiB", so that both read the same`,
      ]);
    });

    it('ending as a number does in the reference parser: a digit, ".", "+", "-" or "e", leading blanks allowed', () => {
      for (const scratch of ['"8589934592"', '" 4096"', '"1.5"', '"1e3"', "'2048'"]) {
        assert.equal(warningsUnder(sized(scratch), path).length, 1, scratch);
      }
    });

    it('no warning for a size with a unit, a final "E" (Exa there), trailing blanks (a unit of "" there), an unquoted number, or 0', () => {
      for (const scratch of ['"8GiB"', '"1E"', '"4096 "', '8589934592', '"0"', '0']) {
        assert.deepEqual(warningsUnder(sized(scratch), path), [], scratch);
      }
    });
  });

  describe("a value of the wrong type in a key this daemon does not read (the reference decodes the whole file)", () => {
    const text = [
      'Clusters:',
      '  zzzzz:',
      '    Collections:',
      '      BlobSigningKey: 123',
      '      BlobSigningTTL: 30',
      '      BlobTrashCheckInterval: 0',
      '      WebDAVCache: {MaxCollectionBytes: 1.5, DiskCacheSize: 10%}',
      '    Users:',
      '      AnonymousUserToken: true',
      '      AutoAdminFirstUser: "yes"',
      '      NewUserNotificationRecipients: [1]',
      '    Login:',
      '      Google:',
      '        AuthenticationRequestParameters: {prompt: 1}',
      '    Workbench:',
      '      SiteName: ~',
      '    RemoteClusters:',
      '      xyzzy: {Host: 12, Proxy: "true"}',
      '  other:',
      '    API:',
      '      MaxItemsPerResponse: "1000"',
      '',
    ].join('\n');

    it('is warned about once per key, in every cluster of the file, saying what the reference expects', () => {
      const warned = loadConfigText(text, { clusterId: 'zzzzz' }).warnings.filter((w) => w.includes(REFUSES));
      assert.deepEqual(warned, [
        `Clusters.zzzzz.Collections.BlobSigningKey: ${REFUSES} (the value is a YAML number, and it expects a string here: quote it); ${SWITCH_BACK}`,
        `Clusters.zzzzz.Collections.BlobSigningTTL: ${REFUSES} (30 is a number without a unit, and it expects a duration here: write it with one, for example "30s"); ${SWITCH_BACK}`,
        `Clusters.zzzzz.Collections.WebDAVCache.MaxCollectionBytes: ${REFUSES} (1.5 is not a whole number of bytes: write a whole number, or a size with a unit such as "1.5GiB"); ${SWITCH_BACK}`,
        `Clusters.zzzzz.Users.AnonymousUserToken: ${REFUSES} (the value is a YAML boolean, and it expects a string here: quote it); ${SWITCH_BACK}`,
        `Clusters.zzzzz.Users.AutoAdminFirstUser: ${REFUSES} (it expects true or false here, and this is text: write it unquoted, yes); ${SWITCH_BACK}`,
        `Clusters.zzzzz.Users.NewUserNotificationRecipients.0: ${REFUSES} (1 is a YAML number, and it expects a string here: write it quoted, "1"); ${SWITCH_BACK}`,
        `Clusters.zzzzz.Login.Google.AuthenticationRequestParameters.prompt: ${REFUSES} (1 is a YAML number, and it expects a string here: write it quoted, "1"); ${SWITCH_BACK}`,
        `Clusters.zzzzz.RemoteClusters.xyzzy.Host: ${REFUSES} (12 is a YAML number, and it expects a string here: write it quoted, "12"); ${SWITCH_BACK}`,
        `Clusters.zzzzz.RemoteClusters.xyzzy.Proxy: ${REFUSES} (it expects true or false here, and this is text: write it unquoted, true); ${SWITCH_BACK}`,
        `Clusters.other.API.MaxItemsPerResponse: ${REFUSES} (it expects a whole number here, and this is text: write it unquoted); ${SWITCH_BACK}`,
      ]);
    });

    it('never quotes the value of a key that holds a secret (a numeric-looking password, token or key)', () => {
      const secrets = ['0x1f2e3d4c5b6a7988', '012345678901234567890123456789012', '98765432109876543210'];
      const text = [
        'Clusters:',
        '  zzzzz:',
        `    SystemRootToken: ${'x'.repeat(32)}`,
        `    ManagementToken: ${secrets[1]}`,
        '    Collections:',
        `      BlobSigningKey: ${secrets[2]}`,
        '    PostgreSQL:',
        '      Connection:',
        `        password: ${secrets[0]}`,
        '',
      ].join('\n');
      const { warnings } = loadConfigText(text);
      for (const key of ['ManagementToken', 'Collections.BlobSigningKey', 'PostgreSQL.Connection.password']) {
        assert.ok(warnings.some((w) => w.startsWith(`Clusters.zzzzz.${key}: `)), `${key} is named\n${warnings.join('\n')}`);
      }
      for (const v of secrets) assert.ok(!warnings.some((w) => w.includes(v)), `${v} in a warning:\n${warnings.join('\n')}`);
    });

    it('suggests writing it unquoted only when that would give a true/false or a number, and keeps each warning on one line', () => {
      const odd = [
        'Clusters:',
        '  zzzzz:',
        `    SystemRootToken: ${'x'.repeat(32)}`,
        '    Login:',
        '      IssueTrustedTokens: |',
        '        block',
        '        text',
        '    API:',
        '      MaxItemsPerResponse: "many"',
        '      MaxRequestAmplification: "0x10"',
        '',
      ].join('\n');
      const warned = loadConfigText(odd).warnings.filter((w) => w.includes(REFUSES));
      assert.deepEqual(warned, [
        `Clusters.zzzzz.Login.IssueTrustedTokens: ${REFUSES} (it expects true or false here, and this is text); ${SWITCH_BACK}`,
        `Clusters.zzzzz.API.MaxItemsPerResponse: ${REFUSES} (it expects a whole number here, and this is text); ${SWITCH_BACK}`,
        `Clusters.zzzzz.API.MaxRequestAmplification: ${REFUSES} (it expects a whole number here, and this is text: write it unquoted); ${SWITCH_BACK}`,
      ]);
    });

    it('says nothing about the reference defaults themselves, nor about config.example.yml', () => {
      assert.deepEqual(loadConfigText(wholeDefaultConfig()).warnings.filter((w) => w.includes(REFUSES)), []);
      assert.deepEqual(loadConfigText(readFileSync(join(REPO_ROOT, 'config.example.yml'), 'utf8')).warnings.filter((w) => w.includes(REFUSES)), []);
    });
  });

  describe('the daemon and check-config', () => {
    let dir: string;
    before(() => {
      dir = mkdtempSync(join(tmpdir(), 'reference-refuses-'));
    });
    after(() => rmSync(dir, { recursive: true }));

    /** The reference's whole default config, with what a dispatcher needs, and values the reference refuses or reads as 0. */
    function refusedByReference(): string {
      const text = wholeDefaultConfig(generateSshKeyPair().private)
        .replace('SSHPort: "22"', 'SSHPort: 22')
        .replace(/^( +)host: ""$/m, '$1Host: db')
        .replace(/^( +)RAM: 8GiB$/m, '$1RAM: "8589934592"');
      assert.notEqual(text, wholeDefaultConfig());
      const file = join(dir, 'config.yml');
      writeFileSync(file, text);
      return file;
    }

    const PATHS = ['Clusters.xxxxx.Containers.CloudVMs.SSHPort', 'Clusters.xxxxx.InstanceTypes.m5.large.RAM', 'Clusters.xxxxx.PostgreSQL.Connection.Host'];

    it('the daemon starts on them, with a warning each', () => {
      let printed = '';
      const stderr = { write: (s: string) => ((printed += s), true) } as unknown as NodeJS.WritableStream;
      const loaded = loadDaemonConfig({ config: refusedByReference() }, stderr);
      assert.ok(loaded, printed);
      assert.deepEqual(loaded.warnings.map(problemPath).sort(), PATHS);
    });

    it('check-config fails on them (strict), and passes them with --strict=false', async () => {
      const file = refusedByReference();
      for (const strict of [true, false]) {
        let err = '';
        const out = { stdout: { write: () => true }, stderr: { write: (s: string) => ((err += s), true) } };
        const code = await checkConfigCommand({ config: file, strict }, out);
        assert.equal(code, strict ? 1 : 0, err);
        const warned = err.split('\n').filter((l) => l.startsWith('warning: '));
        assert.deepEqual(warned.map((w) => problemPath(w.slice('warning: '.length))).sort(), PATHS);
      }
    });
  });
});
