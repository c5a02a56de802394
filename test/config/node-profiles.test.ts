/**
 * The pre-2.0 NodeProfiles, which the reference's loader still turns into
 * InternalURLs: a profile of this host (`*`, $ARVADOS_NODE_PROFILE, the
 * host's name) listens on localhost, any other name is guessed to be a host
 * name; `:port` gets that host, TLS makes it https.
 */
import assert from 'node:assert/strict';
import { clusterConfigTree } from '../../src/arvados/cluster-json/cluster.js';
import { ConfigError, type LoadOptions } from '../../src/config/load.js';
import { loadUnlocated as loadConfigText } from './load-helpers.js';

const HOST = 'dispatch1.example';

function text(profiles: string, services = ''): string {
  return `
Clusters:
  zzzzz:
${services}    NodeProfiles:
${profiles}`;
}

function load(body: string, opts: LoadOptions = {}) {
  return loadConfigText(body, { hostname: HOST, ...opts });
}

const internalURLs = (body: string, opts: LoadOptions = {}): string[] => load(body, opts).cluster.Services.DispatchCloud.InternalURLs;

describe('config: NodeProfiles', () => {
  it('takes the arvados-dispatch-cloud Listen of the "*" profile as http://localhost:port/, so the daemon has an address to listen on', () => {
    const { cluster, warnings } = load(text(`      "*":\n        arvados-dispatch-cloud:\n          Listen: ":9006"\n`));
    assert.deepEqual(cluster.Services.DispatchCloud.InternalURLs, ['http://localhost:9006/']);
    assert.equal(
      warnings.find((w) => w.includes('InternalURLs: empty')),
      undefined,
      'no "no address to listen on" warning',
    );
    const own = warnings.filter((w) => w.startsWith('Clusters.zzzzz.NodeProfiles'));
    assert.equal(own.length, 1, own.join('\n'));
    assert.match(own[0], /^Clusters\.zzzzz\.NodeProfiles: deprecated: .*Services\.DispatchCloud\.InternalURLs/);
    assert.doesNotMatch(own[0], /unknown key/);
  });

  it('takes the profile named for this host, or by $ARVADOS_NODE_PROFILE, as this host too', () => {
    const profile = (name: string): string => text(`      ${name}:\n        arvados-dispatch-cloud: {Listen: ":9006"}\n`);
    assert.deepEqual(internalURLs(profile(HOST)), ['http://localhost:9006/']);
    assert.deepEqual(internalURLs(profile('dispatchers'), { env: { ARVADOS_NODE_PROFILE: 'dispatchers' } }), ['http://localhost:9006/']);
    assert.deepEqual(internalURLs(profile(HOST), { hostname: 'elsewhere' }), [`http://${HOST}:9006/`], 'the name is then a host name');
  });

  it('guesses that any other profile name is a host name, with a warning, and keeps a Listen with a host as it is', () => {
    const { cluster, warnings } = load(
      text(`      dispatch-host:\n        arvados-dispatch-cloud: {Listen: ":9006"}\n      other:\n        arvados-dispatch-cloud: {Listen: "10.0.0.5:9007"}\n`),
    );
    assert.deepEqual(cluster.Services.DispatchCloud.InternalURLs, ['http://dispatch-host:9006/', 'http://10.0.0.5:9007/']);
    assert.ok(
      warnings.includes(
        'Clusters.zzzzz.NodeProfiles.dispatch-host: overriding Clusters.zzzzz.Services.DispatchCloud.InternalURLs with http://dispatch-host:9006/ (guessing "dispatch-host" is a hostname)',
      ),
      warnings.join('\n'),
    );
    assert.ok(warnings.includes('Clusters.zzzzz.NodeProfiles.other: overriding Clusters.zzzzz.Services.DispatchCloud.InternalURLs with http://10.0.0.5:9007/'), warnings.join('\n'));
  });

  it('makes https URLs for TLS: true, and reads the keys in any case, as the reference\'s decoder does', () => {
    assert.deepEqual(internalURLs(text(`      "*":\n        Arvados-Dispatch-Cloud: {listen: ":9006", tls: true}\n`)), ['https://localhost:9006/']);
  });

  it('adds to the InternalURLs the file has, and replaces the same URL\'s entry (ListenURL and all) as the reference does', () => {
    const services = (url: string): string => `    Services:\n      DispatchCloud:\n        InternalURLs:\n          "${url}": {ListenURL: "http://0.0.0.0:9006"}\n`;
    const profile = `      "*":\n        arvados-dispatch-cloud: {Listen: ":9006"}\n`;
    const other = load(text(profile, services('http://10.0.0.2:9006'))).cluster;
    assert.deepEqual(other.Services.DispatchCloud.InternalURLs, ['http://10.0.0.2:9006', 'http://localhost:9006/']);
    assert.deepEqual(other.Services.DispatchCloud.ListenURLs, { 'http://10.0.0.2:9006': 'http://0.0.0.0:9006' });
    const { cluster, warnings } = load(text(profile, services('HTTP://localhost:9006')));
    assert.deepEqual(cluster.Services.DispatchCloud.InternalURLs, ['http://localhost:9006/']);
    assert.deepEqual(cluster.Services.DispatchCloud.ListenURLs, {});
    assert.ok(
      warnings.some((w) => w.startsWith('Clusters.zzzzz.Services.DispatchCloud.InternalURLs.HTTP://localhost:9006: replaced by the empty entry http://localhost:9006/')),
      warnings.join('\n'),
    );
  });

  it('replaces an entry spelt exactly as the migrated URL too: its ListenURL is not used', () => {
    const services = `    Services:\n      DispatchCloud:\n        InternalURLs:\n          "http://localhost:9006/": {ListenURL: "http://0.0.0.0:9006"}\n`;
    const { cluster } = load(text(`      "*":\n        arvados-dispatch-cloud: {Listen: ":9006"}\n`, services));
    assert.deepEqual(cluster.Services.DispatchCloud.InternalURLs, ['http://localhost:9006/']);
    assert.deepEqual(cluster.Services.DispatchCloud.ListenURLs, {});
  });

  it('takes the later of two Listen keys that differ only in case, as the reference\'s decoder fills one field twice', () => {
    assert.deepEqual(internalURLs(text(`      "*":\n        arvados-dispatch-cloud: {Listen: ":9006", listen: ":9007"}\n`)), ['http://localhost:9007/']);
  });

  it('passes the migrated URL on in the config crunch-run gets, as the reference\'s config has it', () => {
    const { cluster } = load(text(`      "*":\n        arvados-dispatch-cloud: {Listen: ":9006"}\n`));
    const services = clusterConfigTree(cluster).Services as { DispatchCloud: { InternalURLs: Record<string, unknown> } };
    assert.deepEqual(Object.keys(services.DispatchCloud.InternalURLs), ['http://localhost:9006/']);
  });

  it('leaves other services\' profiles and an empty Listen alone: nothing this daemon reads', () => {
    const { cluster, warnings } = load(text(`      api-host:\n        arvados-controller: {Listen: ":9004"}\n      "*":\n        arvados-dispatch-cloud: {TLS: true}\n`));
    assert.deepEqual(cluster.Services.DispatchCloud.InternalURLs, []);
    assert.deepEqual(
      warnings.filter((w) => w.startsWith('Clusters.zzzzz.NodeProfiles.')),
      [],
    );
  });

  it('refuses what the reference\'s decoder refuses, naming the key', () => {
    const errorsOf = (body: string): string[] => {
      try {
        load(body);
      } catch (err) {
        if (err instanceof ConfigError) return err.errors;
        throw err;
      }
      return [];
    };
    assert.deepEqual(errorsOf(text(`      "*":\n        arvados-dispatch-cloud: {Listen: [":9006"]}\n`)), [
      'Clusters.zzzzz.NodeProfiles.*.arvados-dispatch-cloud.Listen: expected a host:port or :port, got a list',
    ]);
    assert.deepEqual(errorsOf(text(`      "*":\n        arvados-dispatch-cloud: {Listen: ":9006", TLS: maybe}\n`)), [
      'Clusters.zzzzz.NodeProfiles.*.arvados-dispatch-cloud.TLS: expected true or false, got "maybe"',
    ]);
    assert.deepEqual(errorsOf(text(`      "*":\n        arvados-dispatch-cloud: ":9006"\n`)), [
      'Clusters.zzzzz.NodeProfiles.*.arvados-dispatch-cloud: expected a map with Listen and TLS, got ":9006"',
    ]);
    assert.deepEqual(errorsOf(text(`      "*": localhost\n`)), ['Clusters.zzzzz.NodeProfiles.*: expected a map of service names to settings, got "localhost"']);
    assert.deepEqual(errorsOf(text(`      - "*"\n`)), ['Clusters.zzzzz.NodeProfiles: expected a map of profile names to profiles, got a list']);
    assert.match(errorsOf(text(`      "no such host":\n        arvados-dispatch-cloud: {Listen: ":9006"}\n`))[0], /^Clusters\.zzzzz\.NodeProfiles\.no such host\.arvados-dispatch-cloud\.Listen: .*not a URL with a host/);
  });
});
