import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { ConfigError } from '../../src/config/load.js';
import { loadSettingsText } from '../../src/config/settings.js';
import { unlocated } from './load-helpers.js';

/**
 * A config with three mistakes at once: a bad duration (an error, as for
 * Arvados), a misspelled CloudVMs key and an instance type without RAM
 * (warnings, as Arvados starts with them). The loader must report all of
 * them, and check-config must print them.
 */
export const BAD_CONFIG = `
Clusters:
  zzzzz:
    Containers:
      CloudVMs:
        TimeoutIdle: 1 minute
        TimeoutIdel: 1m
    InstanceTypes:
      foo:
        VCPUs: 2
`;

/** Arvados's own config.default.yml (kept beside the project's design notes). */
export const DEFAULTS_FILE = fileURLToPath(new URL('../../../shared/arvados-config.default.yml', import.meta.url));

/** A token Arvados accepts (letters and digits, long enough). */
export const TOKEN = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEF';

/** PEM-shaped text: enough for the loader, not a key anything can log in with. */
const PEM_SHAPED_KEY = '-----BEGIN OPENSSH PRIVATE KEY-----\nAAAA\n-----END OPENSSH PRIVATE KEY-----\n';

/**
 * Arvados's whole config.default.yml, with what a dispatcher needs set, as a
 * site would set it; `privateKey` is the DispatchPrivateKey to write. The
 * SAMPLE entries of the maps a dispatcher reads are taken out, as a site
 * would take them out: in a site's file they are real entries.
 */
export function wholeDefaultConfig(privateKey: string = PEM_SHAPED_KEY): string {
  const doc = parseDocument(readFileSync(DEFAULTS_FILE, 'utf8'));
  const c = ['Clusters', 'xxxxx'];
  for (const map of [
    ['InstanceTypes'],
    ['Services', 'DispatchCloud', 'InternalURLs'],
    ['Containers', 'CloudVMs', 'ResourceTags'],
    ['Containers', 'CloudVMs', 'DriverParameters', 'SecurityGroupIDs'],
  ]) {
    assert.ok(doc.deleteIn([...c, ...map, 'SAMPLE']), map.join('.'));
  }
  doc.setIn([...c, 'SystemRootToken'], TOKEN);
  doc.setIn([...c, 'ManagementToken'], TOKEN);
  doc.setIn([...c, 'Services', 'Controller', 'ExternalURL'], 'https://xxxxx.example.com');
  doc.setIn([...c, 'Services', 'DispatchCloud', 'InternalURLs', 'http://localhost:9006'], doc.createNode({ ListenURL: '' }));
  doc.setIn([...c, 'Containers', 'DispatchPrivateKey'], privateKey);
  // As a site sets it: an empty one is looked up on the host (AWS_REGION, the instance metadata).
  doc.setIn([...c, 'Containers', 'CloudVMs', 'DriverParameters', 'Region'], 'us-east-1');
  doc.setIn([...c, 'InstanceTypes', 'm5.large'], doc.createNode({ ProviderType: '', VCPUs: 2, RAM: '8GiB', IncludedScratch: '32GB', AddedScratch: 0, Price: 0.1, Preemptible: false }));
  return doc.toString();
}

/** The errors settings `text` is refused with, each naming the file `d.yml` but not its line (`unlocated`; fails when it is accepted). */
export function settingsErrors(text: string): string[] {
  try {
    loadSettingsText(text, 'd.yml');
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return unlocated(err.errors);
  }
  assert.fail(`accepted:\n${text}`);
}
