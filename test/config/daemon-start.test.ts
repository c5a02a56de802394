/**
 * A config Arvados starts on must start the daemon: what Arvados only warns
 * about (unknown keys, RAM: 0, GPU sections it tolerates) reaches the log as
 * warnings, and never stops the start.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseDocument } from 'yaml';
import { loadConfigText } from '../../src/config/load.js';
import { loadDaemonConfig } from '../../src/daemon.js';
import { TOKEN, wholeDefaultConfig } from './fixtures.js';
import { problemPath } from './load-helpers.js';

describe('starting the daemon on configs Arvados starts on', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'daemon-start-'));
  });
  afterEach(() => rmSync(dir, { recursive: true }));

  /** Runs the daemon's config step on `text`: the cluster and warnings, or undefined, and what it printed. */
  function start(text: string): { loaded: ReturnType<typeof loadDaemonConfig>; printed: string } {
    const file = join(dir, 'config.yml');
    writeFileSync(file, text);
    let printed = '';
    const stderr = { write: (s: string) => ((printed += s), true) } as unknown as NodeJS.WritableStream;
    return { loaded: loadDaemonConfig({ config: file }, stderr), printed };
  }

  it("the reference's whole default config starts the daemon with no warnings", () => {
    const text = wholeDefaultConfig();
    assert.deepEqual(loadConfigText(text).warnings, []);
    const { loaded, printed } = start(text);
    assert.ok(loaded, printed);
    assert.deepEqual(loaded.warnings, []);
    assert.equal(loaded.cluster.InstanceTypes['m5.large'].RAM, 8 * 2 ** 30);
  });

  it('with the SAMPLE entries left in, it starts all the same, with a warning for each one the dispatcher would use', () => {
    const doc = parseDocument(wholeDefaultConfig());
    doc.setIn(['Clusters', 'xxxxx', 'InstanceTypes', 'SAMPLE'], doc.createNode({ VCPUs: 1, RAM: '128MiB' }));
    doc.setIn(['Clusters', 'xxxxx', 'Services', 'DispatchCloud', 'InternalURLs', 'SAMPLE'], doc.createNode({ ListenURL: '' }));
    const { loaded, printed } = start(doc.toString());
    assert.ok(loaded, printed);
    assert.deepEqual(loaded.cluster.Services.DispatchCloud.InternalURLs, ['http://localhost:9006']);
    assert.deepEqual(Object.keys(loaded.cluster.InstanceTypes).sort(), ['SAMPLE', 'm5.large']);
    assert.deepEqual(
      loaded.warnings.map(problemPath),
      ['Clusters.xxxxx.Services.DispatchCloud.InternalURLs.SAMPLE', 'Clusters.xxxxx.InstanceTypes.SAMPLE'],
    );
  });

  it('unknown keys, RAM: 0 and a GPU section Arvados tolerates start the daemon, each a warning with its YAML path', () => {
    const text = `Clusters:
  zzzzz:
    SystemRootToken: ${TOKEN}
    Services:
      Controller: {ExternalURL: "https://zzzzz.example.com"}
      NewService: {InternalURLs: {}}
    Containers:
      NewKnob: 1
      CloudVMs:
        Driver: lame
        TimeoutIdel: 1m
    InstanceTypes:
      tiny: {VCPUs: 1, RAM: 0}
      gpu:
        VCPUs: 4
        RAM: 16GiB
        CUDA: {DriverVersion: "11.0", HardwareCapability: "9.0", DeviceCount: 1}
        GPU: {Stack: cuda, DriverVersion: "12.0", HardwareTarget: "8.0", DeviceCount: 1}
`;
    const { loaded, printed } = start(text);
    assert.ok(loaded, printed);
    assert.equal(printed, '');
    // Each after the file and the line of its key; VRAM is not in the file, so it has no line.
    const file = join(dir, 'config.yml');
    for (const path of [
      `${file}: line 6: Clusters.zzzzz.Services.NewService: unknown key`,
      `${file}: line 8: Clusters.zzzzz.Containers.NewKnob: unknown key`,
      `${file}: line 11: Clusters.zzzzz.Containers.CloudVMs.TimeoutIdel: unknown key (did you mean TimeoutIdle?)`,
      `${file}: line 13: Clusters.zzzzz.InstanceTypes.tiny.RAM: is 0: `,
      `${file}: line 17: Clusters.zzzzz.InstanceTypes.gpu.CUDA: no longer read`,
      'Clusters.zzzzz.InstanceTypes.gpu.GPU.VRAM: not given',
    ]) {
      assert.ok(loaded.warnings.some((w) => w.startsWith(path)), `${path} missing from:\n${loaded.warnings.join('\n')}`);
    }
    assert.deepEqual(Object.keys(loaded.cluster.InstanceTypes), ['tiny', 'gpu']);
  });

  it('a config Arvados refuses does not start it: a string where a number is expected', () => {
    const { loaded, printed } = start(`Clusters:\n  zzzzz:\n    SystemRootToken: ${TOKEN}\n    Containers:\n      CloudVMs:\n        MaxInstances: "ten"\n        Bogus: 1\n`);
    assert.equal(loaded, undefined);
    const file = join(dir, 'config.yml');
    assert.ok(printed.split('\n').includes(`warning: ${file}: line 7: Clusters.zzzzz.Containers.CloudVMs.Bogus: unknown key`), printed);
    assert.ok(printed.split('\n').includes(`${file}: line 6: Clusters.zzzzz.Containers.CloudVMs.MaxInstances: expected a whole number, got "ten"`), printed);
  });

  it('what only the daemon refuses (an empty SystemRootToken) is said once, as an error, not also as the warning check-config gives it', () => {
    const { loaded, printed } = start('Clusters:\n  zzzzz:\n    Services:\n      Controller:\n        ExternalURL: https://controller.example\n    InstanceTypes:\n      small:\n        VCPUs: 2\n        RAM: 4GiB\n        Price: 0.1\n    Containers:\n      CloudVMs:\n        Driver: lame\n');
    assert.equal(loaded, undefined);
    const lines = printed.trimEnd().split('\n');
    assert.ok(lines.includes('Clusters.zzzzz.SystemRootToken: required to run the dispatcher, but empty'), printed);
    assert.deepEqual(lines.filter((l) => l.includes('SystemRootToken')), ['Clusters.zzzzz.SystemRootToken: required to run the dispatcher, but empty']);
  });
});
