import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../src/config/index.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const DEFAULTS = join(REPO, '..', 'shared', 'arvados-config.default.yml');

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ['scripts/from-sources.mjs', ...args], { cwd: REPO, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, stdout, stderr, ms: performance.now() - started });
    });
  });
}

describe('arvados-dispatch-cloud command', function () {
  this.timeout(60_000);

  it('--help lists the subcommands', async () => {
    const r = await run(['--help']);
    assert.equal(r.code, 0);
    assert.match(r.stdout, /check-config/);
    assert.match(r.stdout, /demo/);
    assert.match(r.stdout, /lame-cloud/);
    assert.match(r.stdout, /--config <file>/);
  });

  it('refuses to start the daemon without what it needs, naming each key', async () => {
    const r = await run(['--config', DEFAULTS]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Clusters\.xxxxx\.SystemRootToken: required to run the dispatcher, but empty/);
    assert.match(r.stderr, /Clusters\.xxxxx\.Services\.Controller\.ExternalURL: required to run the dispatcher, but empty/);
    assert.match(r.stderr, /Clusters\.xxxxx\.Containers\.DispatchPrivateKey: required/);
  });

  it('reads the config path from ARVADOS_CONFIG when --config is not given', async () => {
    const r = await run([], { ARVADOS_CONFIG: DEFAULTS });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /Clusters\.xxxxx\.SystemRootToken/);
  });

  it('demo (npm start) runs the dispatcher to a summary: every container final, no VM left', async () => {
    const r = await run(['demo', '--containers', '12', '--seed', '3']);
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(-3000));
    assert.match(r.stdout, /Finished in [\d.]+ s: 12 containers\./);
    // The example config injects rare crunch-run crashes (those end Cancelled with a reason), so
    // count outcomes rather than expect exact numbers; the unsatisfiable one is always there.
    const completed = Number(/completed: (\d+)/.exec(r.stdout)?.[1]);
    const cancelled = Number(/cancelled: (\d+)/.exec(r.stdout)?.[1]);
    assert.equal(completed + cancelled, 12);
    assert.ok(completed >= 9, r.stdout);
    assert.match(r.stdout, /1 x "constraints not satisfiable by any configured instance type" \(asks for more VCPUs/);
    assert.doesNotMatch(r.stdout, /NOT FINISHED/);
    assert.match(r.stdout, /VMs created: [1-9]\d*.*; left running: 0/);
    assert.match(r.stdout, /Queue wait \(queued -> running\): p50 [\d.]+ s, p95 [\d.]+ s, over \d+ containers/);
    const { cluster } = loadConfigFile(join(REPO, 'config.example.yml'));
    assert.ok(!r.stdout.includes(cluster.SystemRootToken) && !r.stdout.includes(cluster.ManagementToken));
  });

});
