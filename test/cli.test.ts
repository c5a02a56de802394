import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadConfigFile } from '../src/config/index.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const DEFAULTS = join(REPO, '..', 'shared', 'arvados-config.default.yml');

function run(args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number; stdout: string; stderr: string; ms: number }> {
  const started = performance.now();
  return new Promise((resolve) => {
    execFile(process.execPath, ['bin/arvados-dispatch-cloud.mjs', ...args], { cwd: REPO, env: { ...process.env, ...env } }, (err, stdout, stderr) => {
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

  it('demo (npm start) runs each container to a final state on the lame cloud and leaves no VM behind', async () => {
    // The example config injects rare crunch-run crashes and broken VMs; the
    // demo copes, but this test checks the happy path's table, so turn them off.
    const dir = mkdtempSync(join(tmpdir(), 'adc-demo-'));
    const config = join(dir, 'config.yml');
    const text = readFileSync(join(REPO, 'config.example.yml'), 'utf8');
    writeFileSync(config, text.replace(/CrunchRunCrashRate: [\d.]+/, 'CrunchRunCrashRate: 0').replace(/BrokenRate: [\d.]+/, 'BrokenRate: 0'));
    const r = await run(['demo', '--config', config]);
    rmSync(dir, { recursive: true, force: true });
    assert.equal(r.code, 0, r.stderr + r.stdout.slice(-2000));
    const table = r.stdout.slice(r.stdout.indexOf('\nCONTAINER'));
    assert.match(table, /\["sleep","3"\]\s+small\s+lame-\d+\s+Complete\s+0/);
    assert.match(table, /\["false"\]\s+small\s+lame-\d+\s+Complete\s+1/);
    assert.match(table, /\["sleep","5"\]\s+medium\s+lame-\d+\s+Complete\s+0/);
    assert.match(r.stdout, /VMs left in the cloud: 0/);
    // The demo's config holds tokens; none may appear in its output.
    const { cluster } = loadConfigFile(join(REPO, 'config.example.yml'));
    assert.ok(!r.stdout.includes(cluster.SystemRootToken) && !r.stdout.includes(cluster.ManagementToken));
  });
});
