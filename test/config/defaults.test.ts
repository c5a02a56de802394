/**
 * The compiled defaults must be Arvados's: load Arvados's own
 * config.default.yml and compare every value this daemon reads with what
 * that file says, through the unit parsers.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { loadConfigFile } from '../../src/config/load.js';
import { loadUnlocated as loadConfigText, problemPath } from './load-helpers.js';
import { parseByteSize, parseDuration } from '../../src/config/units.js';
import type { Cluster } from '../../src/config/types.js';

const DEFAULTS_FILE = fileURLToPath(new URL('../../../shared/arvados-config.default.yml', import.meta.url));

type YAMLMap = Record<string, unknown>;

/** Removes SAMPLE entries at any depth, as Arvados does before using its defaults (but not with a site's file). */
function withoutSample(value: unknown): unknown {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return value;
  return Object.fromEntries(Object.entries(value).filter(([k]) => k !== 'SAMPLE').map(([k, v]) => [k, withoutSample(v)]));
}

/**
 * What a YAML value compiles to, given the compiled value's type: durations
 * and sizes go through the parsers. The defaults have no SAMPLE entries; a
 * file read as a site's config keeps its own (`asFile`).
 */
function expectedValue(yamlValue: unknown, compiled: unknown, asFile: boolean): unknown {
  if (typeof compiled === 'number' && typeof yamlValue === 'string') {
    try {
      return parseDuration(yamlValue);
    } catch {
      return parseByteSize(yamlValue);
    }
  }
  return asFile ? yamlValue : withoutSample(yamlValue);
}

describe('config defaults (Arvados config.default.yml)', () => {
  let yaml: YAMLMap;
  let cluster: Cluster;
  let warnings: string[];

  before(() => {
    const doc = parse(readFileSync(DEFAULTS_FILE, 'utf8')) as { Clusters: { xxxxx: YAMLMap } };
    yaml = doc.Clusters.xxxxx;
    ({ cluster, warnings } = loadConfigFile(DEFAULTS_FILE));
  });

  it('loads, with warnings only', () => {
    assert.equal(cluster.ClusterID, 'xxxxx');
    assert.ok(warnings.length > 0);
  });

  it('knows every key of the file (reference-defaults.ts is generated from it: test/arvados/cluster-json.test.ts)', () => {
    assert.ok(!warnings.some((w) => w.includes('unknown key') || w.includes('unexpected map')), warnings.join('\n'));
  });

  it("keeps the file's SAMPLE entries as real ones, as Arvados reads a site's file, but the InternalURLs one, which is no URL", () => {
    assert.deepEqual(Object.keys(cluster.InstanceTypes), ['SAMPLE']);
    assert.deepEqual(cluster.Containers.CloudVMs.ResourceTags, { SAMPLE: 'tag value' });
    assert.deepEqual(cluster.Containers.CloudVMs.DriverParameters.SecurityGroupIDs, { SAMPLE: {} });
    assert.deepEqual(cluster.Services.DispatchCloud.InternalURLs, []);
    assert.deepEqual(
      warnings.filter((w) => w.includes('.SAMPLE: ')).map(problemPath),
      [
        'Clusters.xxxxx.Services.DispatchCloud.InternalURLs.SAMPLE',
        'Clusters.xxxxx.InstanceTypes.SAMPLE',
        'Clusters.xxxxx.Containers.CloudVMs.ResourceTags.SAMPLE',
        'Clusters.xxxxx.Containers.CloudVMs.DriverParameters.SecurityGroupIDs.SAMPLE',
      ],
    );
  });

  it('has no SAMPLE entries in what a config that sets nothing compiles to', () => {
    const empty = loadConfigText('Clusters:\n  xxxxx: {}\n').cluster;
    assert.deepEqual(empty.InstanceTypes, {});
    assert.deepEqual(empty.Containers.CloudVMs.ResourceTags, {});
  });

  // Both the defaults file itself and a config that sets nothing must compile
  // to the file's values: the first checks reading, the second the defaults.
  for (const which of ['the file', 'an empty config'] as const) {
    const compiledFor = () => (which === 'the file' ? cluster : loadConfigText('Clusters:\n  xxxxx: {}\n').cluster);

    it(`has every CloudVMs key of the file, with the file's value, loading ${which}`, () => {
      const fileVMs = (yaml.Containers as YAMLMap).CloudVMs as YAMLMap;
      const compiled = compiledFor().Containers.CloudVMs as unknown as YAMLMap;
      assert.deepEqual(Object.keys(compiled).sort(), Object.keys(fileVMs).sort());
      for (const [key, value] of Object.entries(fileVMs)) {
        // The file's DriverParameters are examples for the ec2 and azure
        // drivers; this daemon gives each driver only what the config sets.
        if (key === 'DriverParameters' && which === 'an empty config') {
          assert.deepEqual(compiled[key], {});
          continue;
        }
        assert.deepEqual(compiled[key], expectedValue(value, compiled[key], which === 'the file'), `CloudVMs.${key}`);
      }
    });

    it(`has the file's value for every Containers key it uses, loading ${which}`, () => {
      const fileContainers = yaml.Containers as YAMLMap;
      const { CloudVMs: _, ...compiled } = compiledFor().Containers as unknown as YAMLMap;
      for (const [key, value] of Object.entries(compiled)) {
        assert.ok(key in fileContainers, `Containers.${key} is in the file`);
        assert.deepEqual(value, expectedValue(fileContainers[key], value, which === 'the file'), `Containers.${key}`);
      }
    });

    it(`has the file's value for the other keys it uses, loading ${which}`, () => {
      const c = compiledFor();
      assert.equal(c.SystemRootToken, yaml.SystemRootToken);
      assert.equal(c.ManagementToken, yaml.ManagementToken);
      assert.equal(c.TLS.Insecure, (yaml.TLS as YAMLMap).Insecure);
      assert.equal(c.SystemLogs.LogLevel, (yaml.SystemLogs as YAMLMap).LogLevel);
      assert.equal(c.SystemLogs.Format, (yaml.SystemLogs as YAMLMap).Format);
      const services = yaml.Services as Record<string, YAMLMap>;
      assert.equal(c.Services.Controller.ExternalURL, services.Controller.ExternalURL);
    });
  }
});
