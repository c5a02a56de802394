/**
 * The `instances` and `containers` subcommands through the real command line:
 * commander wiring, the config file as the source of URL and token, output
 * and exit status, against the fake management API.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FakeManagementServer, TOKEN } from './fake-management.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['scripts/from-sources.mjs', ...args], { cwd: REPO }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('arvados-dispatch-cloud instances / containers (command line)', function () {
  this.timeout(30_000);
  let server: FakeManagementServer;
  let dir: string;
  let config: string;

  const writeConfig = (name: string, body: string): string => {
    const path = join(dir, name);
    writeFileSync(path, `Clusters:\n  zzzzz:\n${body}`);
    return path;
  };

  before(async () => {
    server = new FakeManagementServer();
    await server.start();
    dir = mkdtempSync(join(tmpdir(), 'adc-admin-'));
    config = writeConfig(
      'config.yml',
      `    ManagementToken: ${TOKEN}
    Services:
      DispatchCloud:
        InternalURLs:
          "${server.url}": {}
`,
    );
  });
  after(async () => {
    await server.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  beforeEach(() => server.requests.splice(0));

  it('--help lists instances and containers', async () => {
    const r = await run(['--help']);
    assert.match(r.stdout, /instances/);
    assert.match(r.stdout, /containers/);
  });

  it('instances (no verb) lists, reading URL and token from --config', async () => {
    const r = await run(['instances', '--config', config]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^ID +TYPE +STATE/);
    assert.match(r.stdout, /lame-0000000001 +small +running/);
    assert.equal(server.requests[0]!.authorization, `Bearer ${TOKEN}`);
  });

  it('instances list --json and containers list --json print items', async () => {
    const a = await run(['--config', config, 'instances', 'list', '--json']);
    assert.equal(a.code, 0, a.stderr);
    assert.equal(JSON.parse(a.stdout).length, 2);
    const b = await run(['--config', config, 'containers', '--json']);
    assert.equal(b.code, 0, b.stderr);
    assert.equal(JSON.parse(b.stdout)[1].container.state, 'Queued');
  });

  it('containers (no verb) lists', async () => {
    const r = await run(['--config', config, 'containers']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^UUID +STATE +PRIORITY +INSTANCE TYPES +SCHEDULING STATUS\n/);
  });

  it('instances hold, drain, run, kill --reason; containers kill --reason', async () => {
    for (const verb of ['hold', 'drain', 'run']) {
      const r = await run(['--config', config, 'instances', verb, 'lame-0000000001']);
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal((await run(['--config', config, 'instances', 'kill', 'lame-0000000001', '--reason', 'replace it'])).code, 0);
    assert.equal((await run(['--config', config, 'containers', 'kill', 'zzzzz-dz642-000000000000001', '--reason', 'stuck'])).code, 0);
    assert.deepEqual(
      server.requests.map((r) => `${r.method} ${r.path} ${new URLSearchParams(r.query)}`),
      [
        'POST /arvados/v1/dispatch/instances/hold instance_id=lame-0000000001',
        'POST /arvados/v1/dispatch/instances/drain instance_id=lame-0000000001',
        'POST /arvados/v1/dispatch/instances/run instance_id=lame-0000000001',
        'POST /arvados/v1/dispatch/instances/kill instance_id=lame-0000000001&reason=replace+it',
        'POST /arvados/v1/dispatch/containers/kill container_uuid=zzzzz-dz642-000000000000001&reason=stuck',
      ],
    );
  });

  it("a 404 prints the server's error and exits 1; a missing id is a usage error", async () => {
    const r = await run(['--config', config, 'instances', 'drain', 'i-unknown']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /i-unknown: POST \/arvados\/v1\/dispatch\/instances\/drain: 404 Not Found: requested instance does not exist/);
    const u = await run(['--config', config, 'instances', 'hold']);
    // Exit status 2 and one line, as the reference's usage errors (src/cli.ts EXIT_USAGE).
    assert.equal(u.code, 2);
    assert.equal(u.stderr, "error: missing required argument 'instance-id' (try --help)\n");
  });

  it('takes several instance IDs, as the reference does: each is tried, the one not found is named, and it makes the exit status 1', async () => {
    const before = server.requests.length;
    const ids = ['lame-0000000001', 'i-unknown', 'lame-0000000002-with-a-long-name'];
    const r = await run(['--config', config, 'instances', 'kill', ...ids, '--reason', 'old image']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, 'lame-0000000001: shutting down\nlame-0000000002-with-a-long-name: shutting down\n');
    assert.equal(r.stderr, 'arvados-dispatch-cloud: i-unknown: POST /arvados/v1/dispatch/instances/kill: 404 Not Found: instance not found\n');
    assert.deepEqual(
      server.requests.slice(before).map((q) => `${q.method} ${q.path} ${new URLSearchParams(q.query)}`),
      ids.map((id) => `POST /arvados/v1/dispatch/instances/kill instance_id=${id}&reason=old+image`),
    );
  });

  it('a config without a token or URL exits 2 naming the key; a stopped daemon exits 1', async () => {
    const noToken = writeConfig('no-token.yml', `    Services:\n      DispatchCloud:\n        InternalURLs:\n          "${server.url}": {}\n`);
    const a = await run(['--config', noToken, 'instances']);
    assert.equal(a.code, 2);
    assert.match(a.stderr, /Clusters\.zzzzz\.ManagementToken: empty/);
    const noURL = writeConfig('no-url.yml', `    ManagementToken: ${TOKEN}\n`);
    const b = await run(['--config', noURL, 'containers']);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /Clusters\.zzzzz\.Services\.DispatchCloud\.InternalURLs: empty/);
    const gone = writeConfig('gone.yml', `    ManagementToken: ${TOKEN}\n    Services:\n      DispatchCloud:\n        InternalURLs:\n          "http://127.0.0.1:1": {}\n`);
    const c = await run(['--config', gone, 'containers']);
    assert.equal(c.code, 1);
    assert.match(c.stderr, /cannot reach the dispatcher at http:\/\/127\.0\.0\.1:1/);
  });

  it('with several instance IDs, a config that cannot say how to reach the daemon is said once, as the reference reads its config once', async () => {
    const noToken = writeConfig('no-token-ids.yml', `    Services:\n      DispatchCloud:\n        InternalURLs:\n          "${server.url}": {}\n`);
    const r = await run(['--config', noToken, 'instances', 'hold', 'i-1', 'i-2', 'i-3']);
    assert.equal(r.code, 2);
    assert.equal(r.stderr.trimEnd().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, /Clusters\.zzzzz\.ManagementToken: empty/);
    assert.equal(server.requests.length, 0);
  });

  it('with several instance IDs and the daemon not reachable, each line names the ID it failed for, as the reference says', async () => {
    const gone = writeConfig('gone-ids.yml', `    ManagementToken: ${TOKEN}\n    Services:\n      DispatchCloud:\n        InternalURLs:\n          "http://127.0.0.1:1": {}\n`);
    const r = await run(['--config', gone, 'instances', 'drain', 'i-1', 'i-2']);
    assert.equal(r.code, 1);
    const lines = r.stderr.trimEnd().split('\n');
    assert.equal(lines.length, 2, r.stderr);
    assert.match(lines[0]!, /^arvados-dispatch-cloud: i-1: cannot reach the dispatcher at http:\/\/127\.0\.0\.1:1/);
    assert.match(lines[1]!, /^arvados-dispatch-cloud: i-2: cannot reach the dispatcher at http:\/\/127\.0\.0\.1:1/);
  });
});
