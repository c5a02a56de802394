/**
 * What the admin commands make of the dispatcher's answers beyond the happy
 * path: which statuses mean "no such thing", which are the daemon's own
 * words, which send the command to the next InternalURL, and how an error
 * answer reads. A scripted server answers each route as the test says.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { ManagementClient, type ManagementTarget, targetsFromCluster } from '../../src/admin/client.js';
import { type AdminContext, instanceAction, killContainer, listInstances, whyContainer } from '../../src/admin/commands.js';
import { loadConfigText } from '../../src/config/index.js';
import { selfSignedCertificate } from '../arvados/self-signed.js';
import { FakeManagementServer, TOKEN, WHY_ITEM } from './fake-management.js';

class Buffered extends Writable {
  text = '';
  override _write(chunk: Buffer, _enc: string, cb: () => void): void {
    this.text += chunk.toString();
    cb();
  }
}

/** An answer: a status and a JSON body, or a raw body as given; `hang` never answers. */
type Answer = { status: number; body?: unknown; raw?: string } | 'hang';

/** Answers `METHOD /path` as `routes` says (404 otherwise), and records what was asked. */
class ScriptedServer {
  readonly asked: string[] = [];
  private server?: http.Server;
  url = '';
  constructor(private readonly routes: Record<string, Answer>) {}

  async start(tls?: { cert: string; key: string }): Promise<void> {
    const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      const route = `${req.method} ${new URL(req.url ?? '/', 'http://x').pathname}`;
      this.asked.push(route);
      const a = this.routes[route] ?? { status: 404, body: { errors: ['not found'] } };
      if (a === 'hang') return;
      res.writeHead(a.status, { 'Content-Type': 'application/json' });
      res.end(a.raw ?? JSON.stringify(a.body));
    };
    this.server = tls ? https.createServer(tls, handler) : http.createServer(handler);
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `${tls ? 'https' : 'http'}://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections?.();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }
}

describe("admin commands: the dispatcher's answers", () => {
  let stdout: Buffered;
  let stderr: Buffered;
  const servers: Array<{ stop(): Promise<void> }> = [];
  const target = (baseURL: string, extra: Partial<ManagementTarget> = {}): ManagementTarget => ({ baseURL, token: TOKEN, insecure: false, ...extra });
  const ctx = (...targets: ManagementTarget[]): AdminContext => ({ config: '/nonexistent', stdout, stderr, targets });
  const scripted = async (routes: Record<string, Answer>, tls?: { cert: string; key: string }): Promise<ScriptedServer> => {
    const s = new ScriptedServer(routes);
    await s.start(tls);
    servers.push(s);
    return s;
  };

  beforeEach(() => {
    stdout = new Buffered();
    stderr = new Buffered();
  });
  afterEach(async () => {
    for (const s of servers.splice(0)) await s.stop();
  });

  it("containers kill and why: only a 404 means the container is not there; any other error is the dispatcher's own words", async () => {
    const uuid = 'zzzzz-dz642-000000000000001';
    const s = await scripted({
      'POST /arvados/v1/dispatch/containers/kill': { status: 500, body: { errors: ['crunch-run did not answer'] } },
      'GET /arvados/v1/dispatch/container': { status: 403, body: { errors: ['permission denied'] } },
    });
    assert.equal(await killContainer(ctx(target(s.url)), uuid), 1);
    assert.equal(stderr.text, 'arvados-dispatch-cloud: POST /arvados/v1/dispatch/containers/kill: 500 Internal Server Error: crunch-run did not answer\n');
    stderr.text = '';
    assert.equal(await whyContainer(ctx(target(s.url)), uuid), 1);
    assert.equal(stderr.text, 'arvados-dispatch-cloud: GET /arvados/v1/dispatch/container: 403 Forbidden: permission denied\n');
  });

  it('containers kill without --reason sends the default reason, which names the command, for the logs and the container record', async () => {
    const fake = new FakeManagementServer();
    await fake.start();
    servers.push(fake);
    assert.equal(await killContainer(ctx(target(fake.url)), 'zzzzz-dz642-000000000000001'), 0, stderr.text);
    assert.deepEqual(fake.requests.map((r) => [r.method, r.path, r.query]), [
      ['POST', '/arvados/v1/dispatch/containers/kill', { container_uuid: 'zzzzz-dz642-000000000000001', reason: 'killed by operator (arvados-dispatch-cloud containers kill)' }],
    ]);
  });

  it('containers why: a timeline the dispatcher does not have (404) is left out, but a timeline that fails otherwise fails the command', async () => {
    const s = await scripted({
      'GET /arvados/v1/dispatch/container': { status: 200, body: WHY_ITEM },
      'GET /arvados/v1/dispatch/container/timeline': { status: 500, body: { errors: ['timeline store broken'] } },
    });
    assert.equal(await whyContainer(ctx(target(s.url)), WHY_ITEM.container.uuid), 1);
    assert.equal(stdout.text, '');
    assert.equal(stderr.text, 'arvados-dispatch-cloud: GET /arvados/v1/dispatch/container/timeline: 500 Internal Server Error: timeline store broken\n');
  });

  it('containers why --json without a timeline: "timeline" is there, null, so a script can tell none from a key it must not miss', async () => {
    const s = await scripted({ 'GET /arvados/v1/dispatch/container': { status: 200, body: WHY_ITEM } });
    assert.equal(await whyContainer(ctx(target(s.url)), WHY_ITEM.container.uuid, { json: true }), 0, stderr.text);
    const out = JSON.parse(stdout.text) as Record<string, unknown>;
    assert.deepEqual(Object.keys(out), ['container', 'timeline']);
    assert.equal(out.timeline, null);
  });

  it('a config file that cannot be loaded is exit 2 (as a config without the key), naming the file', async () => {
    assert.equal(await listInstances({ config: '/nonexistent/arvados/config.yml', stdout, stderr }), 2);
    assert.equal(stdout.text, '');
    assert.match(stderr.text, /^arvados-dispatch-cloud: .*\/nonexistent\/arvados\/config\.yml/);
  });

  it("TLS: a self-signed certificate is refused unless the target is insecure (the cluster's TLS.Insecure)", async () => {
    const s = await scripted({ 'GET /arvados/v1/dispatch/instances': { status: 200, body: { items: [] } } }, selfSignedCertificate());
    assert.equal(await listInstances(ctx(target(s.url))), 1);
    assert.match(stderr.text, /cannot reach the dispatcher at https:\/\/127\.0\.0\.1:\d+: .*(self[- ]signed|certificate)/i);
    assert.equal(s.asked.length, 0);
    stderr.text = '';
    assert.equal(await listInstances(ctx(target(s.url, { insecure: true }))), 0, stderr.text);
    assert.deepEqual(s.asked, ['GET /arvados/v1/dispatch/instances']);
  });

  it('a 2xx answer that is not JSON is exit 1 saying so, not "idle behavior set"', async () => {
    const s = await scripted({ 'POST /arvados/v1/dispatch/instances/hold': { status: 200, raw: '<html>a proxy page</html>' } });
    assert.equal(await instanceAction(ctx(target(s.url)), 'hold', 'i-1'), 1);
    assert.equal(stdout.text, '');
    assert.match(stderr.text, /POST \/arvados\/v1\/dispatch\/instances\/hold: the dispatcher answered 200 with a body that is not JSON\n$/);
  });

  it("only a 503 (a standby; for a container's status, its 404 that says so) sends the command to the next InternalURL: a 500 is the dispatcher's word", async () => {
    const broken = await scripted({ 'GET /arvados/v1/dispatch/instances': { status: 500, body: { errors: ['pool is broken'] } } });
    const other = await scripted({ 'GET /arvados/v1/dispatch/instances': { status: 200, body: { items: [] } } });
    assert.equal(await listInstances(ctx(target(broken.url), target(other.url))), 1);
    assert.deepEqual(other.asked, []);
    assert.equal(stderr.text, 'arvados-dispatch-cloud: GET /arvados/v1/dispatch/instances: 500 Internal Server Error: pool is broken\n');
  });

  it('a dispatcher that takes the connection but never answers is given up after the timeout, as one that cannot be reached', async () => {
    const s = await scripted({ 'GET /arvados/v1/dispatch/instances': 'hang' });
    const client = new ManagementClient(target(s.url), 600);
    await assert.rejects(client.get('/arvados/v1/dispatch/instances'), (e: unknown) => {
      assert.match(String((e as Error).message), /^cannot reach the dispatcher at http:\/\/127\.0\.0\.1:\d+: no answer within 1 s$/);
      assert.equal((e as { elsewhere?: boolean }).elsewhere, true);
      return true;
    });
  });

  it("an error answer reads as its errors, else its text cut to 200 characters, else '(empty answer)'", async () => {
    const page = `<html>${'x'.repeat(300)}</html>`;
    const s = await scripted({
      'GET /arvados/v1/dispatch/instances': { status: 502, raw: page },
      'GET /arvados/v1/dispatch/containers': { status: 500, raw: '' },
      'POST /arvados/v1/dispatch/instances/hold': { status: 400, raw: JSON.stringify({ errors: ['', 'instance_id parameter not provided'] }) },
    });
    const client = new ManagementClient(target(s.url));
    await assert.rejects(client.get('/arvados/v1/dispatch/instances'), { message: `GET /arvados/v1/dispatch/instances: 502 Bad Gateway: ${page.slice(0, 200)}...` });
    await assert.rejects(client.get('/arvados/v1/dispatch/containers'), { message: 'GET /arvados/v1/dispatch/containers: 500 Internal Server Error: (empty answer)' });
    await assert.rejects(client.post('/arvados/v1/dispatch/instances/hold'), { message: 'POST /arvados/v1/dispatch/instances/hold: 400 Bad Request: instance_id parameter not provided' });
  });

  it("the targets from the config are insecure exactly when the cluster's TLS.Insecure is true", () => {
    const targets = (insecure: boolean): ManagementTarget[] =>
      targetsFromCluster(
        loadConfigText(`
Clusters:
  zzzzz:
    ManagementToken: ${TOKEN}
    TLS:
      Insecure: ${insecure}
    Services:
      DispatchCloud:
        InternalURLs:
          "https://dispatch.example:9006": {}
`).cluster,
      );
    assert.deepEqual(targets(true), [{ baseURL: 'https://dispatch.example:9006', token: TOKEN, insecure: true }]);
    assert.deepEqual(targets(false), [{ baseURL: 'https://dispatch.example:9006', token: TOKEN, insecure: false }]);
  });

  it('a 2xx answer without an "items" list (not the dispatcher at that URL) is exit 1 saying so, not an empty table', async () => {
    const s = await scripted({ 'GET /arvados/v1/dispatch/instances': { status: 200, body: { kind: 'something else' } } });
    assert.equal(await listInstances(ctx(target(s.url))), 1);
    assert.equal(stdout.text, '');
    assert.match(stderr.text, /^arvados-dispatch-cloud: the dispatcher answered without an "items" list; is the InternalURL really the dispatcher\?\n$/);
  });
});
