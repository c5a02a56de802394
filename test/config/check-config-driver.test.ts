/**
 * check-config runs the configured driver's own check of its parameters, so
 * a config the daemon would refuse at start (an unknown driver, a bad or
 * missing parameter, no ec2 region anywhere) fails review with the
 * daemon's words, and the driver's start-up warnings (a parameter it does
 * not use, with the one likely meant) are check-config's warnings.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseDocument } from 'yaml';
import { ManualClock } from '../../src/clock/index.js';
import { newInstanceSet } from '../../src/cloud/registry.js';
import { checkConfigCommand } from '../../src/config/check-config.js';
import { loadConfigFile } from '../../src/config/load.js';
import { REFERENCE_CLUSTER_DEFAULTS } from '../../src/config/reference-defaults.js';
import { loadDaemonConfig } from '../../src/daemon.js';
import { silentLogger } from '../../src/log.js';
import '../../src/drivers.js';
import { lineNumberOf } from './load-helpers.js';

const EXAMPLE = fileURLToPath(new URL('../../config.example.yml', import.meta.url));

/** AWS variables the region lookup reads, cleared so the outcome does not depend on the machine (and the metadata service is not asked). */
const AWS_ENV: Record<string, string | undefined> = {
  AWS_REGION: undefined,
  AWS_DEFAULT_REGION: undefined,
  AWS_PROFILE: undefined,
  AWS_CONFIG_FILE: '/nonexistent/aws-config',
  AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/aws-credentials',
  AWS_EC2_METADATA_DISABLED: 'true',
};

describe('check-config: the driver and its parameters', () => {
  let dir: string;
  let saved: Record<string, string | undefined>;
  let n = 0;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'check-driver-'));
    saved = Object.fromEntries(Object.keys(AWS_ENV).map((k) => [k, process.env[k]]));
    for (const [k, v] of Object.entries(AWS_ENV)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });
  after(() => {
    rmSync(dir, { recursive: true });
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  /** config.example.yml with this driver, these parameters and other CloudVMs keys; its path. */
  function configWith(driver: string, params: Record<string, unknown>, cloudVMs: Record<string, unknown> = {}, noTypes = false): string {
    const doc = parseDocument(readFileSync(EXAMPLE, 'utf8'));
    const at = ['Clusters', 'zzzzz', 'Containers', 'CloudVMs'];
    doc.setIn([...at, 'Driver'], driver);
    doc.setIn([...at, 'DriverParameters'], doc.createNode(params));
    for (const [k, v] of Object.entries(cloudVMs)) doc.setIn([...at, k], v);
    // The loopback driver's one instance type is the host's.
    if (driver === 'loopback' || noTypes) doc.deleteIn(['Clusters', 'zzzzz', 'InstanceTypes']);
    const file = join(dir, `c${++n}.yml`);
    writeFileSync(file, doc.toString());
    return file;
  }

  async function check(file: string, strict = true): Promise<{ code: number; stderr: string; placed: string; stdout: string }> {
    let stderr = '';
    let stdout = '';
    const out = { stdout: { write: (s: string) => ((stdout += s), true) }, stderr: { write: (s: string) => ((stderr += s), true) } };
    const code = await checkConfigCommand({ config: file, strict }, out);
    // The file and line check-config puts before a key the file writes, taken off for comparing with the daemon's words.
    return { code, stderr: stderr.replace(/^(warning: )?\S+: line \d+: /gm, '$1'), placed: stderr, stdout };
  }

  /** What the daemon's start says when it builds the driver from `file`. */
  async function daemonSays(file: string): Promise<string> {
    const { cluster } = loadConfigFile(file);
    try {
      await newInstanceSet({ cluster, logger: silentLogger(), clock: new ManualClock() });
    } catch (err) {
      return (err as Error).message;
    }
    assert.fail('the daemon took this config');
  }

  it('refuses an unknown driver (exit 2), in the words the daemon exits with', async () => {
    const file = configWith('azure', { ClientSecret: 'x' });
    const r = await check(file, false);
    assert.equal(r.code, 2);
    const said = await daemonSays(file);
    assert.equal(said, 'Clusters.zzzzz.Containers.CloudVMs.Driver: unknown driver "azure" (known: ec2, gce, lame, loopback)');
    assert.ok(r.stderr.split('\n').includes(said), r.stderr);
    // Placed on the line of the Driver key.
    assert.ok(r.placed.split('\n').includes(`${file}: line ${lineNumberOf(readFileSync(file, 'utf8'), /^ +Driver: azure$/m)}: ${said}`), r.placed);
    assert.equal(r.stdout, '', 'no compiled config for a config the daemon refuses');
    // A name with a line break (a block scalar) is quoted: the message stays one line.
    const block = await check(configWith('block\ntext\n', {}), false);
    assert.equal(block.code, 2);
    assert.ok(block.stderr.split('\n').includes('Clusters.zzzzz.Containers.CloudVMs.Driver: unknown driver "block\\ntext\\n" (known: ec2, gce, lame, loopback)'), block.stderr);
  });

  it('warns about ec2 with no region anywhere on this host (the daemon would not start here; where it runs, the metadata may give one), and about a misspelt parameter with the one meant', async () => {
    const file = configWith('ec2', { Regoin: 'us-east-1' });
    const strict = await check(file);
    assert.equal(strict.code, 1, strict.stderr);
    assert.equal((await check(file, false)).code, 0);
    const said = await daemonSays(file);
    assert.match(said, /^Clusters\.zzzzz\.Containers\.CloudVMs\.DriverParameters\.Region: not set, and the AWS SDK found no region either/);
    assert.ok(strict.stderr.split('\n').includes(`warning: ${said} (the daemon would refuse to start on this host)`), strict.stderr);
    assert.match(
      strict.stderr,
      /^warning: Clusters\.zzzzz\.Containers\.CloudVMs\.DriverParameters: ignoring DriverParameters the ec2 driver does not use \(.*DidYouMean: \{"Regoin":"Region"\}.*\)$/m,
    );
  });

  it('takes ec2 with a region; a parameter it does not use is a warning (exit 1 when strict, 0 when not)', async () => {
    const file = configWith('ec2', { Region: 'eu-west-1', SubnetID: 'subnet-1', Colour: 'blue' });
    const strict = await check(file);
    assert.equal(strict.code, 1, strict.stderr);
    assert.match(strict.stderr, /^warning: .*DriverParameters: ignoring DriverParameters the ec2 driver does not use \(Parameters: \["Colour"\]\)$/m);
    assert.doesNotMatch(strict.stderr, /DidYouMean/, 'no suggestion for a name close to none');
    const lenient = await check(file, false);
    assert.equal(lenient.code, 0, lenient.stderr);
    assert.match(lenient.stdout, /Region: eu-west-1/);
  });

  it('refuses a bad ec2 value, naming the parameter by its whole path', async () => {
    const file = configWith('ec2', { Region: 'eu-west-1', AccessKeyID: 'AKIAEXAMPLE' });
    const r = await check(file, false);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^Clusters\.zzzzz\.Containers\.CloudVMs\.DriverParameters\.SecretAccessKey: required when AccessKeyID is set/m);
    assert.ok(!r.stderr.includes('AKIAEXAMPLE'));
  });

  it('refuses gce without a project, as the daemon would', async () => {
    const file = configWith('gce', { Zone: 'us-central1-a' });
    const r = await check(file, false);
    assert.equal(r.code, 2);
    const said = await daemonSays(file);
    assert.equal(said, 'Clusters.zzzzz.Containers.CloudVMs.DriverParameters.Project: required (the Google Cloud project id)');
    assert.ok(r.stderr.split('\n').includes(said), r.stderr);
  });

  it('refuses the loopback driver without DeployPublicKey, and warns about parameters it ignores', async () => {
    const refused = await check(configWith('loopback', {}, { DeployPublicKey: false }), false);
    assert.equal(refused.code, 2);
    assert.match(refused.stderr, /^Clusters\.zzzzz\.Containers\.CloudVMs\.DeployPublicKey: must be true with the loopback driver/m);
    const taken = await check(configWith('loopback', { Seed: 1 }, { DeployPublicKey: true }), false);
    assert.equal(taken.code, 0, taken.stderr);
    assert.match(taken.stderr, /^warning: .*DriverParameters: the loopback driver takes no DriverParameters; ignoring them \(DriverParameters: \["Seed"\]\)$/m);
  });

  it("does not warn about the other drivers' parameters left at the reference's defaults, as arvados-server config-dump writes them", async () => {
    const defaults = (((REFERENCE_CLUSTER_DEFAULTS.Containers as Record<string, unknown>).CloudVMs as Record<string, unknown>).DriverParameters ?? {}) as Record<string, unknown>;
    const dumped = { ...structuredClone(defaults), SecurityGroupIDs: { 'sg-1': {} }, Region: 'eu-west-1' };
    assert.ok('ClientSecret' in dumped && 'ResourceGroup' in dumped, "the reference's defaults carry azure's parameters");
    const quiet = await check(configWith('ec2', dumped), false);
    assert.equal(quiet.code, 0, quiet.stderr);
    assert.doesNotMatch(quiet.stderr, /DriverParameters/);
    const set = await check(configWith('ec2', { ...dumped, ResourceGroup: 'leftover', Regoin: 'x' }));
    assert.match(set.stderr, /ignoring DriverParameters the ec2 driver does not use \(.*Parameters: \["Regoin","ResourceGroup"\]\)$/m, 'one set away from its default is still named');
    const gce = await check(configWith('gce', { ...dumped, Project: 'p', Zone: 'us-central1-a' }));
    assert.doesNotMatch(gce.stderr, /Parameters: \[.*"SubnetID"/, "ec2's defaults are not gce's warning either");
    const loopback = await check(configWith('loopback', structuredClone(defaults), { DeployPublicKey: true }), false);
    assert.equal(loopback.code, 0, loopback.stderr);
    assert.doesNotMatch(loopback.stderr, /takes no DriverParameters/, 'nor the loopback driver\'s, which takes none');
  });

  it('refuses a config with no instance types (exit 2), which the daemon refuses too: every container would be cancelled', async () => {
    const file = configWith('lame', {}, {}, true);
    const r = await check(file, false);
    assert.equal(r.code, 2);
    const said = 'Clusters.zzzzz.InstanceTypes: none configured, so every container would be cancelled ("site configuration does not list any instance types"): the dispatcher does not start without one';
    assert.ok(r.stderr.split('\n').includes(said), r.stderr);
    let printed = '';
    const daemon = loadDaemonConfig({ config: file }, { write: (s: string) => ((printed += s), true) } as unknown as NodeJS.WritableStream);
    assert.equal(daemon, undefined, 'the daemon does not start');
    assert.ok(printed.split('\n').includes(said), printed);
  });

  it('refuses a bad lame parameter', async () => {
    const r = await check(configWith('lame', { MinBootTime: 'soon' }), false);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /^Clusters\.zzzzz\.Containers\.CloudVMs\.DriverParameters\.MinBootTime: /m);
  });
});
