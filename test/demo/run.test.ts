/**
 * `demo` refuses, before it starts anything, a config it must not or cannot
 * run: one line per problem on stderr, exit 2, no stack trace. (The demo's
 * whole run is in test/cli.test.ts.)
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_CONFIG, runDemoCommand } from '../../src/demo/run.js';

describe('demo: configs it refuses', () => {
  let dir: string;
  let stderr: { text: string; write(chunk: string): boolean };
  const example = readFileSync(EXAMPLE_CONFIG, 'utf8');
  const variant = (name: string, from: string, to: string): string => {
    assert.ok(example.includes(from), `config.example.yml has ${from}`);
    const path = join(dir, name);
    writeFileSync(path, example.replace(from, to));
    return path;
  };
  const demo = (config: string): Promise<number> => runDemoCommand({ config, containers: 1, seed: 1, deadlineMs: 1, stderr, log: join(dir, 'demo.log') });

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'adc-demo-'));
    stderr = {
      text: '',
      write(chunk: string) {
        this.text += chunk;
        return true;
      },
    };
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('a log file it cannot write: one line and exit 2, before it starts anything', async () => {
    const log = join(dir, 'no-such-dir', 'demo.log');
    assert.equal(await runDemoCommand({ config: EXAMPLE_CONFIG, containers: 1, seed: 1, deadlineMs: 1, stderr, log }), 2);
    assert.equal(stderr.text, `demo: cannot write the log file ${log} (ENOENT)\n`);
  });

  it('a driver other than lame: the demo would manage the cluster\'s real VMs against its own controller, so it says so and exits 2', async () => {
    const config = variant('ec2.yml', 'Driver: lame', 'Driver: ec2');
    assert.equal(await demo(config), 2);
    assert.equal(
      stderr.text,
      `demo: ${config}: Clusters.zzzzz.Containers.CloudVMs.Driver is "ec2", but the demo runs only the lame driver: ` +
        "it runs against its own in-memory controller, so on a real cloud it would manage the cluster's real VMs (leave out --config to use config.example.yml)\n",
    );
  });

  it('a config file that is not there: one line naming it, exit 2', async () => {
    const config = join(dir, 'nonexistent.yml');
    assert.equal(await demo(config), 2);
    assert.match(stderr.text, /^demo: .*nonexistent\.yml: cannot read the config file: ENOENT[^\n]*\n$/);
  });

  it('a key the dispatcher needs left empty: one line naming it, exit 2', async () => {
    const config = variant('no-token.yml', 'SystemRootToken: ReplaceMeWithFiftyRandomLettersAndDigitsXXXXXXXXXX', 'SystemRootToken: ""');
    assert.equal(await demo(config), 2);
    assert.equal(stderr.text, 'demo: Clusters.zzzzz.SystemRootToken: required to run the dispatcher, but empty\n');
  });
});
