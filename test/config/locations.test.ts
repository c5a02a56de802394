/**
 * Each config and settings problem about a key the file writes names the
 * file and the line of that key before its path, so that an editor can go
 * there: `config.yml: line 12: Clusters.zzzzz....: what was expected`.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile, loadConfigText } from '../../src/config/load.js';
import { loadSettingsFile } from '../../src/config/settings.js';
import { ROOT_TOKEN } from './load-helpers.js';

/** The errors and warnings `text` gives, as the loader words them. */
function problems(text: string): { errors: string[]; warnings: string[] } {
  try {
    return { errors: [], warnings: loadConfigText(text, { source: 'c.yml' }).warnings };
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return { errors: err.errors, warnings: err.warnings };
  }
}

/** The lines of `all` about `path` (a problem's path is followed by ": "). */
function about(all: string[], path: string): string[] {
  return all.filter((line) => line.includes(`${path}: `));
}

const HEAD = `Clusters:\n  zzzzz:\n    SystemRootToken: ${ROOT_TOKEN}\n`;

describe('config: where each problem is written', () => {
  it('an error and a warning name the line of their key, block and flow style alike', () => {
    const p = problems(`${HEAD}    Containers:\n      CloudVMs:\n        MaxInstances: lots\n        TimeoutIdel: 1m\n    InstanceTypes:\n      a: {VCPUs: 1, RAM: 1GiB, Ram: 2GiB}\n`);
    assert.deepEqual(about(p.errors, 'MaxInstances'), ['c.yml: line 6: Clusters.zzzzz.Containers.CloudVMs.MaxInstances: expected a whole number, got "lots"']);
    assert.deepEqual(about(p.warnings, 'TimeoutIdel'), ['c.yml: line 7: Clusters.zzzzz.Containers.CloudVMs.TimeoutIdel: unknown key (did you mean TimeoutIdle?)']);
    assert.deepEqual(about(p.warnings, 'a.Ram'), ['c.yml: line 9: Clusters.zzzzz.InstanceTypes.a.Ram: unknown key (did you mean RAM?)']);
  });

  it('a key that is a list, a map or a tagged object (which Arvados refuses) names its line, in the config and the settings file', () => {
    const p = problems(`${HEAD}    ? [a, b]\n    : 1\n    Containers:\n      !!binary aGVsbG8=: 1\n`);
    const what = 'a key must be a single value (text or a number), not a list, a map, binary data or a timestamp';
    assert.deepEqual(p.errors, [`c.yml: line 4: Clusters.zzzzz.["a","b"]: ${what}`, `c.yml: line 7: Clusters.zzzzz.Containers.!!binary aGVsbG8=: ${what}`]);
    const dir = mkdtempSync(join(tmpdir(), 'locations-'));
    try {
      const file = join(dir, 's.yml');
      writeFileSync(file, 'PreWarm:\n  Enable: true\n  !!timestamp 2001-12-14: 1\n');
      assert.throws(
        () => loadSettingsFile(file, { explicit: true }),
        (err: unknown) => err instanceof ConfigError && err.errors.join('\n') === `${file}: line 3: PreWarm.!!timestamp 2001-12-14: ${what}`,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a key the file does not write (a missing value) is named by its path alone', () => {
    const p = problems(`${HEAD}    InstanceTypes:\n      a: {VCPUs: 1}\n`);
    assert.deepEqual(about(p.warnings, 'a.RAM'), ['Clusters.zzzzz.InstanceTypes.a.RAM: absent: no container fits this type (give the memory size, e.g. "16GiB")']);
  });

  it('a value read through an alias or a merge key is placed where the anchored map writes it; an explicit key after a merge, where it is', () => {
    const text = `x-late: &late 5 minutes\nx-vms: &vms\n  MaxInstances: lots\n  TimeoutBooting: soon\n${HEAD}    Containers:\n      CloudVMs:\n        <<: *vms\n        TimeoutBooting: never\n    API: {RequestTimeout: *late}\n`;
    const p = problems(text);
    assert.deepEqual(about(p.errors, 'MaxInstances'), ['c.yml: line 3: Clusters.zzzzz.Containers.CloudVMs.MaxInstances: expected a whole number, got "lots"']);
    assert.deepEqual(about(p.errors, 'TimeoutBooting'), ['c.yml: line 11: Clusters.zzzzz.Containers.CloudVMs.TimeoutBooting: invalid duration "never"']);
    assert.deepEqual(about(p.errors, 'RequestTimeout'), ['c.yml: line 12: Clusters.zzzzz.API.RequestTimeout: invalid duration "5 minutes"']);
  });

  it('of a key given twice, the last one (the one used) is named, after the warning that names the first', () => {
    const p = problems(`${HEAD}    Containers:\n      MaxDispatchAttempts: 5\n      MaxDispatchAttempts: many\n`);
    assert.deepEqual(about(p.errors, 'MaxDispatchAttempts'), ['c.yml: line 6: Clusters.zzzzz.Containers.MaxDispatchAttempts: expected a whole number, got "many"']);
  });

  it('counts lines as the file has them: CRLF endings, block scalars and comments before the key', () => {
    const text = `# site config\r\n${HEAD.replace(/\n/g, '\r\n')}    Containers:\r\n      CrunchRunArgumentsList: |\r\n        not\r\n        a list\r\n      CloudVMs:\r\n        MaxInstances: none\r\n`;
    const p = problems(text);
    assert.deepEqual(about(p.errors, 'CrunchRunArgumentsList'), ['c.yml: line 6: Clusters.zzzzz.Containers.CrunchRunArgumentsList: expected a list of strings, got "not\\na list\\n"']);
    assert.deepEqual(about(p.errors, 'MaxInstances'), ['c.yml: line 10: Clusters.zzzzz.Containers.CloudVMs.MaxInstances: expected a whole number, got "none"']);
  });

  it('a refused value says its error once, not also the warning that follows from it', () => {
    const p = problems(`${HEAD}    InstanceTypes:\n      a:\n        VCPUs: 2.5\n        RAM: 1GiB\n`);
    assert.deepEqual(about([...p.errors, ...p.warnings], 'a.VCPUs'), ['c.yml: line 6: Clusters.zzzzz.InstanceTypes.a.VCPUs: expected a whole number, got 2.5']);
  });

  describe('a problem found after loading (a driver\'s, the daemon\'s)', () => {
    const TYPES = `${HEAD}    InstanceTypes:\n      m5: {VCPUs: 1, RAM: 1GiB}\n      m5.large:\n        VCPUs: 2\n        RAM: 2GiB\n      " m5":\n        VCPUs: 4\n      "a: b.c": {VCPUs: 8}\n`;
    const place = (line: string): string => loadConfigText(TYPES, { source: 'c.yml' }).place(line);

    it('is placed on its key when a key of its path has dots, split where the file\'s keys are', () => {
      assert.equal(place('Clusters.zzzzz.InstanceTypes.m5.large.RAM: too small'), 'c.yml: line 8: Clusters.zzzzz.InstanceTypes.m5.large.RAM: too small');
      assert.equal(place('Clusters.zzzzz.InstanceTypes.m5.VCPUs: x'), 'c.yml: line 5: Clusters.zzzzz.InstanceTypes.m5.VCPUs: x', 'the shortest key first');
      assert.equal(place('Clusters.zzzzz.InstanceTypes.m5.large: no such type'), 'c.yml: line 6: Clusters.zzzzz.InstanceTypes.m5.large: no such type');
    });

    it('is placed when a key of its path is quoted, ": " inside included', () => {
      assert.equal(place('Clusters.zzzzz.InstanceTypes." m5".VCPUs: x'), 'c.yml: line 10: Clusters.zzzzz.InstanceTypes." m5".VCPUs: x');
      assert.equal(place('Clusters.zzzzz.InstanceTypes."a: b.c": x'), 'c.yml: line 11: Clusters.zzzzz.InstanceTypes."a: b.c": x');
    });

    it('is left as it is when the file does not write its path, or it names none', () => {
      for (const line of [
        'Clusters.zzzzz.InstanceTypes.m5.large.Price: absent',
        'Clusters.zzzzz.InstanceTypes.m5.small: no such type',
        'Clusters.zzzzz.InstanceTypes."m5: bad',
        'the driver said: no',
        ': nothing',
      ]) {
        assert.equal(place(line), line);
      }
    });
  });

  describe('files', () => {
    let dir: string;
    beforeEach(() => (dir = mkdtempSync(join(tmpdir(), 'locations-'))));
    afterEach(() => rmSync(dir, { recursive: true }));

    it('a config file is named by the path it was read from', () => {
      const file = join(dir, 'config.yml');
      writeFileSync(file, `${HEAD}    ManagementToken: ~\n    Containers:\n      CloudVMs: {TimeoutProbe: 2 s}\n`);
      assert.throws(
        () => loadConfigFile(file),
        (err: unknown) => err instanceof ConfigError && err.errors.includes(`${file}: line 6: Clusters.zzzzz.Containers.CloudVMs.TimeoutProbe: invalid duration "2 s"`),
      );
    });

    it('a settings file likewise, list items included', () => {
      const file = join(dir, 'dispatch-cloud.yml');
      writeFileSync(file, 'EventFeed:\n  Enable: true\nWarmPools:\n  Pools:\n    - InstanceType: a\n      Min: 1\n    - InstanceType: b\n      Min: many\n');
      assert.throws(
        () => loadSettingsFile(file, { explicit: true }),
        (err: unknown) => err instanceof ConfigError && err.errors.length === 1 && err.errors[0].startsWith(`${file}: line 8: WarmPools.Pools.1.Min: `),
      );
    });
  });
});
