/**
 * config.yml read as Arvados's YAML library (go-yaml v2, YAML 1.1) reads it,
 * where YAML 1.2 reads the same text otherwise: only the first document,
 * Go's number forms, and merge keys applied where they stand.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile, loadConfigText } from '../../src/config/load.js';
import { decodeYAMLBytes, goYAMLNumber } from '../../src/config/go-yaml.js';
import { loadSettingsFile } from '../../src/config/settings.js';

const TOKEN = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEF';

function load(cluster: string, before = '') {
  return loadConfigText(`${before}Clusters:\n  zzzzz:\n    SystemRootToken: ${TOKEN}\n${cluster}`);
}

describe('config: YAML as Arvados reads it', () => {
  describe('documents', () => {
    it('reads the first document only, and warns about the ignored one, whose errors do not count', () => {
      const { cluster, warnings } = load('    Containers:\n      CloudVMs:\n        MaxInstances: 5\n---\nClusters: [not: even, yaml\n');
      assert.equal(cluster.Containers.CloudVMs.MaxInstances, 5);
      assert.ok(
        warnings.includes('config: line 7: another YAML document: ignored, as Arvados reads only the first document of the file'),
        warnings.join('\n'),
      );
    });

    it('says nothing about an empty document after a trailing ---, or about a leading --- and a closing ...', () => {
      const { warnings } = load('    ManagementToken: ~\n---\n', '---\n');
      assert.deepEqual(
        warnings.filter((w) => w.includes('YAML document')),
        [],
      );
      assert.doesNotThrow(() => load('...\n', '---\n'));
    });
  });

  describe('numbers', () => {
    const cases: Array<[string, number | undefined]> = [
      ['10', 10],
      ['010', 8],
      ['-010', -8],
      ['08', 8],
      ['0', 0],
      ['0o17', 15],
      ['0x1F', 31],
      ['0X1f', 31],
      ['-0x10', -16],
      ['0b101', 5],
      ['+0b11', 3],
      ['1_000', 1000],
      ['17_179_869_184', 17179869184],
      ['1_000.5', 1000.5],
      ['1e3', 1000],
      ['1.', 1],
      ['+5', 5],
      ['2024-01-01', undefined],
      ['8GiB', undefined],
      ['1h30m', undefined],
      ['0x', undefined],
      ['.5', undefined],
      ['yes', undefined],
      ['_1', undefined],
    ];
    for (const [text, n] of cases) {
      it(`${JSON.stringify(text)} is ${n === undefined ? 'not a number (left to YAML 1.2)' : n}`, () => assert.equal(goYAMLNumber(text), n));
    }

    it('a count with a leading 0 is octal, and one with underscores a number, as Arvados reads them', () => {
      const { cluster } = load('    Containers:\n      CloudVMs:\n        MaxInstances: 010\n        MaxCloudOpsPerSecond: 1_000\n    InstanceTypes:\n      a: {VCPUs: 0b100, RAM: 17_179_869_184}\n');
      assert.equal(cluster.Containers.CloudVMs.MaxInstances, 8);
      assert.equal(cluster.Containers.CloudVMs.MaxCloudOpsPerSecond, 1000);
      assert.deepEqual([cluster.InstanceTypes.a.VCPUs, cluster.InstanceTypes.a.RAM], [4, 16 * 2 ** 30]);
    });

    it('a string field still takes such a number as written, with the warning that the reference refuses it', () => {
      const { cluster, warnings } = load('    Containers:\n      CloudVMs:\n        SSHPort: 0022\n        ImageID: "0022"\n');
      assert.equal(cluster.Containers.CloudVMs.SSHPort, '0022');
      assert.ok(warnings.some((w) => w.startsWith('config: line 6: Clusters.zzzzz.Containers.CloudVMs.SSHPort: the reference dispatcher refuses this')), warnings.join('\n'));
      assert.ok(!warnings.some((w) => w.includes('Clusters.zzzzz.Containers.CloudVMs.ImageID')), 'a quoted scalar is text');
    });

    it('an explicitly tagged string stays text', () => {
      const { cluster } = load('    Containers:\n      CloudVMs:\n        ImageID: !!str 010\n');
      assert.equal(cluster.Containers.CloudVMs.ImageID, '010');
    });
  });

  describe('merge keys', () => {
    const anchors = 'x-types:\n  small: &small {VCPUs: 2, RAM: 2GiB, Price: 0.5}\n  big: &big {VCPUs: 8, Price: 0.9}\n  derived: &derived\n    <<: *small\n    Price: 0.7\n';

    function typeOf(entry: string) {
      const t = load(`    InstanceTypes:\n      a:\n${entry}`, anchors).cluster.InstanceTypes.a;
      return { VCPUs: t.VCPUs, RAM: t.RAM / 2 ** 30, Price: t.Price };
    }

    it('a key after the merge overrides the merged value', () => {
      assert.deepEqual(typeOf('        <<: *small\n        VCPUs: 4\n'), { VCPUs: 4, RAM: 2, Price: 0.5 });
    });

    it('a merge after a key overrides it, as go-yaml applies entries in order (YAML 1.2 would keep the key)', () => {
      assert.deepEqual(typeOf('        VCPUs: 4\n        <<: *small\n'), { VCPUs: 2, RAM: 2, Price: 0.5 });
    });

    it('in a list of merged maps the first wins; a later merge overrides an earlier one', () => {
      assert.deepEqual(typeOf('        <<: [*big, *small]\n'), { VCPUs: 8, RAM: 2, Price: 0.9 });
      assert.deepEqual(typeOf('        <<: *small\n        <<: *big\n'), { VCPUs: 8, RAM: 2, Price: 0.9 });
    });

    it('a merged map may merge another', () => {
      assert.deepEqual(typeOf('        <<: *derived\n'), { VCPUs: 2, RAM: 2, Price: 0.7 });
    });

    it('a string field reached through a merge is read as written too', () => {
      const { cluster } = load('    Containers:\n      CloudVMs:\n        <<: *vm\n', 'x-vm: &vm {SSHPort: 2222, ImageID: ami-1}\n');
      assert.deepEqual([cluster.Containers.CloudVMs.SSHPort, cluster.Containers.CloudVMs.ImageID], ['2222', 'ami-1']);
    });

    it('a merge of something that is not a map is still refused', () => {
      assert.throws(() => typeOf('        <<: 5\n'), /Merge sources must be maps/);
    });
  });

  describe('encodings', () => {
    const text = `Clusters:\n  zzzzz:\n    SystemRootToken: ${TOKEN}\n    Containers:\n      CloudVMs:\n        MaxInstances: 7 # élan\n`;
    const utf16be = (t: string) => Buffer.from(Buffer.from(t, 'utf16le').map((_, i, b) => b[i ^ 1]));
    let dir = '';
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'yaml-enc-'))));
    afterEach(() => rmSync(dir, { recursive: true, force: true }));
    const file = (bytes: Buffer) => {
      const path = join(dir, 'config.yml');
      writeFileSync(path, bytes);
      return path;
    };

    it('reads a file with a UTF-16 byte order mark as UTF-16, little- or big-endian, as go-yaml does', () => {
      const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
      const be = Buffer.concat([Buffer.from([0xfe, 0xff]), utf16be(text)]);
      for (const bytes of [le, be]) assert.equal(loadConfigFile(file(bytes)).cluster.Containers.CloudVMs.MaxInstances, 7);
      assert.equal(decodeYAMLBytes(be).text, text);
    });

    it('reads UTF-8, with or without its byte order mark', () => {
      assert.equal(loadConfigFile(file(Buffer.from(`\ufeff${text}`, 'utf8'))).cluster.Containers.CloudVMs.MaxInstances, 7);
      assert.equal(loadConfigFile(file(Buffer.from(text, 'utf8'))).cluster.Containers.CloudVMs.MaxInstances, 7);
    });

    it('refuses UTF-16 that does not decode, naming the file', () => {
      const odd = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le'), Buffer.from([0x41])]);
      const path = file(odd);
      assert.throws(() => loadConfigFile(path), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, new RegExp(`${path}: cannot read the config file: starts with a UTF-16LE byte order mark but is not valid UTF-16LE`));
        return true;
      });
    });

    it('warns about bytes that are not UTF-8 (a Latin-1 comment), which the reference refuses, naming the line', () => {
      const latin1 = Buffer.from(text, 'latin1');
      const { cluster, warnings } = loadConfigFile(file(latin1));
      assert.equal(cluster.Containers.CloudVMs.MaxInstances, 7);
      assert.match(warnings[0], /config\.yml: line 6: not valid UTF-8 .*the reference dispatcher refuses this file/);
      assert.equal(loadConfigFile(file(Buffer.from(text, 'utf8'))).warnings.filter((w) => w.includes('UTF-8')).length, 0, 'none for valid UTF-8');
      // Kept among the warnings of a file that has errors too.
      const broken = Buffer.concat([latin1, Buffer.from('        MaxInstances: [\n', 'latin1')]);
      assert.throws(() => loadConfigFile(file(broken)), (err: unknown) => err instanceof ConfigError && /line 6: not valid UTF-8/.test(err.warnings[0]));
    });

    it('reads our own settings file the same way', () => {
      const path = join(dir, 'dispatch-cloud.yml');
      writeFileSync(path, Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from('EventFeed:\n  Enable: false\n', 'utf16le')]));
      assert.equal(loadSettingsFile(path, { explicit: true }).settings.EventFeed.Enable, false);
    });
  });
});
