/**
 * `demo --serve`: the demo's dispatcher serves its management API, status
 * page and metrics on the config's InternalURL while the workload runs, and
 * after the summary until told to stop, so an operator can try the
 * `instances` and `containers` commands, curl and a browser without a
 * cluster. A small workload in real time (a few seconds).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EXAMPLE_CONFIG, runDemoCommand } from '../../src/demo/run.js';

describe('demo --serve', function () {
  this.timeout(120_000);

  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'adc-demo-serve-'));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('serves the management API on the InternalURL during the run and after the summary, until stopped', async () => {
    const example = readFileSync(EXAMPLE_CONFIG, 'utf8');
    const token = /ManagementToken: (\S+)/.exec(example)?.[1];
    assert.ok(token, 'config.example.yml has a ManagementToken');
    assert.ok(example.includes('"http://127.0.0.1:9006": {}'));
    const config = join(dir, 'config.yml');
    // Port 0: a free one, named in the line the demo prints.
    writeFileSync(config, example.replace('"http://127.0.0.1:9006": {}', '"http://127.0.0.1:0": {}'));

    let text = '';
    let stop: () => void = () => {};
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    let seenAfter: { status: number; body: { items?: unknown[] } } | undefined;
    let unauthorized = 0;
    const stdout = {
      write(chunk: string): boolean {
        text += chunk;
        const m = /Still serving at (http:\/\/127\.0\.0\.1:\d+)\//.exec(chunk);
        if (m) {
          void (async () => {
            try {
              const r = await fetch(`${m[1]}/arvados/v1/dispatch/containers`, { headers: { Authorization: `Bearer ${token}` } });
              seenAfter = { status: r.status, body: (await r.json()) as { items?: unknown[] } };
              unauthorized = (await fetch(`${m[1]}/arvados/v1/dispatch/containers`)).status;
            } finally {
              stop();
            }
          })();
        }
        return true;
      },
    };
    const code = await runDemoCommand({ config, containers: 3, seed: 2, serve: true, until: stopped, stdout, stderr: stdout, log: join(dir, 'demo.log') });
    assert.equal(code, 0, text);
    assert.match(text, /^Serving the management API, status page and metrics at http:\/\/127\.0\.0\.1:\d+\//m);
    assert.ok(seenAfter, text);
    assert.equal(seenAfter.status, 200);
    assert.ok(Array.isArray(seenAfter.body.items), 'the API answered with its list');
    assert.equal(unauthorized, 401, 'with the same token rule as the daemon');
    assert.match(text, /^Finished in /m, 'the summary came before');
  });
});
