/**
 * The management API against a real dispatcher on the lame cloud (in-process
 * transport) with the test controller: every route, every auth case, the
 * 400/404/405 answers, and the effects (tags on the cloud's VM, a cancelled
 * container, a destroyed VM).
 */
import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import type { InstanceViewJSON, QueueEntJSON } from '../../src/http/format.js';
import { call, type Stack, startStack, until } from './helpers.js';

const API = '/arvados/v1/dispatch';
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

describe('management API', function () {
  this.timeout(30_000);
  let stack: Stack;

  before(async () => {
    stack = await startStack();
  });
  after(async () => {
    await stack?.stop();
  });

  describe('auth', () => {
    const paths: Array<['GET' | 'POST', string]> = [
      ['GET', `${API}/containers`],
      ['GET', `${API}/container?container_uuid=x`],
      ['POST', `${API}/containers/kill?container_uuid=x`],
      ['GET', `${API}/instances`],
      ['POST', `${API}/instances/hold?instance_id=x`],
      ['POST', `${API}/instances/drain?instance_id=x`],
      ['POST', `${API}/instances/run?instance_id=x`],
      ['POST', `${API}/instances/kill?instance_id=x`],
      ['GET', '/metrics'],
      ['GET', '/metrics.json'],
      ['GET', '/no/such/path'],
    ];

    it('answers 401 without a token, on every path', async () => {
      for (const [method, path] of paths) {
        const r = await call(stack, method, path);
        assert.equal(r.status, 401, `${method} ${path}`);
        assert.equal(r.text, 'Unauthorized\n');
      }
    });

    it('answers 403 with a wrong token, on every path', async () => {
      for (const [method, path] of paths) {
        const r = await call(stack, method, path, { token: `${stack.token}x` });
        assert.equal(r.status, 403, `${method} ${path}`);
        assert.equal(r.text, 'Forbidden\n');
      }
      // A prefix of the right token is just as wrong.
      assert.equal((await call(stack, 'GET', `${API}/instances`, { token: stack.token.slice(0, 10) })).status, 403);
      assert.equal((await call(stack, 'GET', `${API}/instances`, { authorization: 'Bearer' })).status, 401);
    });

    it('accepts the token as Bearer, OAuth2 or api_token, as the reference', async () => {
      assert.equal((await call(stack, 'GET', `${API}/instances`, { token: stack.token })).status, 200);
      assert.equal((await call(stack, 'GET', `${API}/instances`, { authorization: `OAuth2 ${stack.token}` })).status, 200);
      assert.equal((await call(stack, 'GET', `${API}/instances?api_token=${stack.token}`)).status, 200);
    });

    it('health wants the Bearer header itself', async () => {
      const r = await call(stack, 'GET', `/_health/ping?api_token=${stack.token}`);
      assert.equal(r.status, 401);
      assert.equal(r.text, 'authorization required\n');
    });

    it('/_health/ping answers by the health handler\'s rules, before the API\'s token check', async () => {
      const none = await call(stack, 'GET', '/_health/ping');
      assert.equal(none.status, 401);
      assert.equal(none.text, 'authorization required\n');
      const wrong = await call(stack, 'GET', '/_health/ping', { token: `${stack.token}x` });
      assert.equal(wrong.status, 403);
      assert.equal(wrong.text, 'authorization error\n');
      // The right token, but not as "Bearer <token>": the API would take it, health does not.
      const oauth = await call(stack, 'GET', '/_health/ping', { authorization: `OAuth2 ${stack.token}` });
      assert.equal(oauth.status, 403);
      assert.equal(oauth.text, 'authorization error\n');
      const post = await call(stack, 'POST', '/_health/ping');
      assert.equal(post.status, 405);
      assert.equal(post.text, 'Method Not Allowed\n');
    });

    it('refuses everything with 403 when no ManagementToken is configured, but /metrics, /metrics.json and /_health/ping', async () => {
      const bare = await startStack({ managementToken: '', start: false });
      try {
        for (const [method, path] of paths) {
          if (path.startsWith('/metrics')) continue;
          const r = await call(bare, method, path, { token: 'anything' });
          assert.equal(r.status, 403, `${method} ${path}`);
          assert.equal(r.text, 'Management API authentication is not configured\n');
        }
      } finally {
        await bare.stop();
      }
    });

    it('/_health/ping is 404 disabled without a ManagementToken', async () => {
      const bare = await startStack({ managementToken: '', start: false });
      try {
        for (const opts of [{}, { token: 'anything' }]) {
          const r = await call(bare, 'GET', '/_health/ping', opts);
          assert.equal(r.status, 404);
          assert.equal(r.text, 'disabled\n');
          assert.equal(r.contentType, 'text/plain; charset=utf-8');
        }
      } finally {
        await bare.stop();
      }
    });

    it('serves /metrics and /metrics.json without a token when no ManagementToken is configured', async () => {
      const bare = await startStack({ managementToken: '', start: false });
      try {
        const text = await call(bare, 'GET', '/metrics');
        assert.equal(text.status, 200);
        assert.match(text.text, /^arvados_dispatchcloud_driver_operations\{/m);
        const json = await call(bare, 'GET', '/metrics.json', { token: 'anything' });
        assert.equal(json.status, 200);
        assert.ok(Array.isArray(json.json()));
        // Other methods are the API's, which refuses them.
        assert.equal((await call(bare, 'POST', '/metrics')).status, 403);
      } finally {
        await bare.stop();
      }
    });
  });

  describe('routes', () => {
    it('answers 404 for an unknown path and 405 for a wrong method', async () => {
      const r = await call(stack, 'GET', '/arvados/v1/dispatch/nothing', { token: stack.token });
      assert.equal(r.status, 404);
      const m = await call(stack, 'POST', `${API}/instances`, { token: stack.token });
      assert.equal(m.status, 405);
      const g = await call(stack, 'GET', `${API}/instances/hold?instance_id=x`, { token: stack.token });
      assert.equal(g.status, 405);
      assert.equal((await call(stack, 'GET', '/_health/nothing', { token: stack.token })).status, 404);
    });

    it("redirects as the reference's router does: a final slash added or removed, then the cleaned path in any case; 301 for GET, 307 for POST; after the token check, except for the health check; never with a query string, which could echo a token", async () => {
      const raw = async (method: string, path: string, token?: string): Promise<{ status: number; location: string | null; body: string; type: string | null }> => {
        const r = await fetch(`${stack.server.url}${path}`, { method, redirect: 'manual', headers: token ? { Authorization: `Bearer ${token}` } : {} });
        return { status: r.status, location: r.headers.get('location'), body: await r.text(), type: r.headers.get('content-type') };
      };
      const slash = await raw('GET', `${API}/instances/`, stack.token);
      assert.deepEqual(slash, {
        status: 301,
        location: `${API}/instances`,
        body: `<a href="${API}/instances">Moved Permanently</a>.\n\n`,
        type: 'text/html; charset=utf-8',
      });
      assert.equal((await raw('GET', '/ARVADOS/v1/Dispatch/INSTANCES', stack.token)).location, `${API}/instances`);
      assert.equal((await raw('GET', '/arvados//v1/dispatch/./containers/', stack.token)).location, `${API}/containers`);
      assert.equal((await raw('GET', '/metrics/', stack.token)).location, '/metrics');
      const post = await raw('POST', `${API}/instances/Hold/`, stack.token);
      assert.deepEqual([post.status, post.location, post.body], [307, `${API}/instances/hold`, '']);
      // The API's token check comes first.
      assert.equal((await raw('GET', `${API}/instances/`)).status, 401);
      // A query is not sent back in a Location header (it may hold a token): not found instead.
      for (const query of [`api_token=${stack.token}`, 'x=1']) {
        const withQuery = await raw('GET', `${API}/instances/?${query}`, query.startsWith('x') ? stack.token : undefined);
        assert.deepEqual([withQuery.status, withQuery.location], [404, null], query);
      }
      assert.equal((await raw('GET', '/_health/ping/?x=1')).status, 401);
      // The health check's own router redirects before any token check.
      const ping = await raw('GET', '/_health/ping/');
      assert.deepEqual([ping.status, ping.location], [301, '/_health/ping']);
      // Nothing like a route: not found; a route of another method: 405, no redirect.
      assert.equal((await raw('GET', `${API}/nothing/`, stack.token)).status, 404);
      assert.equal((await raw('POST', `${API}/instances/`, stack.token)).status, 404);
      assert.equal((await raw('GET', `${API}/instances/hold/`, stack.token)).status, 404);
    });

    it('answers OPTIONS on a known path with its methods in Allow, as the reference\'s router', async () => {
      const r = await fetch(`${stack.server.url}${API}/instances/hold`, { method: 'OPTIONS', headers: { Authorization: `Bearer ${stack.token}` } });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('allow'), 'OPTIONS, POST');
      const m = await fetch(`${stack.server.url}${API}/instances`, { method: 'POST', headers: { Authorization: `Bearer ${stack.token}` } });
      assert.equal(m.status, 405);
      assert.equal(m.headers.get('allow'), 'GET, OPTIONS');
      const ping = await fetch(`${stack.server.url}/_health/ping`, { method: 'OPTIONS' });
      assert.equal(ping.status, 200, 'health is answered before the token check');
      assert.equal(ping.headers.get('allow'), 'GET, OPTIONS');
    });

    it('serves the status page at / without a token, and nothing else without one', async () => {
      const page = await call(stack, 'GET', '/');
      assert.equal(page.status, 200);
      assert.match(page.contentType, /text\/html/);
      assert.equal((await call(stack, 'POST', '/')).status, 401);
      assert.equal((await call(stack, 'GET', '/index.html')).status, 401);
    });

    it('health: {"health":"OK"}', async () => {
      const r = await call(stack, 'GET', '/_health/ping', { token: stack.token });
      assert.equal(r.status, 200);
      assert.deepEqual(r.json(), { health: 'OK' });
    });

    it('400 for missing parameters, 404 for unknown ids', async () => {
      const t = { token: stack.token };
      for (const path of [`${API}/instances/hold`, `${API}/instances/drain`, `${API}/instances/run`, `${API}/instances/kill`]) {
        const missing = await call(stack, 'POST', path, t);
        assert.equal(missing.status, 400, path);
        assert.deepEqual(missing.json(), { errors: ['instance_id parameter not provided'] });
        // As the reference's httpserver.Error.
        assert.equal(missing.headers.get('x-content-type-options'), 'nosniff');
        const unknown = await call(stack, 'POST', `${path}?instance_id=i-nonesuch`, t);
        assert.equal(unknown.status, 404, path);
        assert.match(unknown.contentType, /application\/json/);
      }
      assert.deepEqual((await call(stack, 'POST', `${API}/instances/hold?instance_id=i-nonesuch`, t)).json(), {
        errors: ['requested instance does not exist'],
      });
      assert.deepEqual((await call(stack, 'POST', `${API}/instances/kill?instance_id=i-nonesuch`, t)).json(), { errors: ['instance not found'] });
      const noUUID = await call(stack, 'POST', `${API}/containers/kill`, t);
      assert.equal(noUUID.status, 400);
      assert.deepEqual(noUUID.json(), { errors: ['container_uuid parameter not provided'] });
      const notRunning = await call(stack, 'POST', `${API}/containers/kill?container_uuid=zzzzz-dz642-000000000000000`, t);
      assert.equal(notRunning.status, 404);
      assert.deepEqual(notRunning.json(), { errors: ['container not found'] });
      const noEntry = await call(stack, 'GET', `${API}/container?container_uuid=zzzzz-dz642-000000000000000`, t);
      assert.equal(noEntry.status, 404);
      assert.deepEqual(noEntry.json(), { errors: ['container not found'] });
    });

    // fetch would normalise these targets, so they go out as written over node:http.
    it('takes a target starting with // as a path (404, or 301 to the route it cleans to, never to another host), not as a URL with a host (500)', async () => {
      const base = new URL(stack.server.url);
      const expected: Array<[string, number, string | undefined]> = [
        ['//', 404, undefined],
        ['//arvados/v1/dispatch/instances', 301, '/arvados/v1/dispatch/instances'],
        ['//x?api_token=y', 404, undefined],
        ['//metrics', 301, '/metrics'],
      ];
      for (const [target, status, location] of expected) {
        const got = await new Promise<[number, string | undefined]>((resolve, reject) => {
          const headers = { Authorization: `Bearer ${stack.token}` };
          const req = httpRequest({ host: base.hostname, port: base.port, path: target, headers, agent: false }, (res) => {
            res.resume();
            res.on('end', () => resolve([res.statusCode ?? 0, res.headers.location]));
          });
          req.on('error', reject);
          req.end();
        });
        assert.deepEqual(got, [status, location], target);
      }
    });
  });

  describe('with a container running', () => {
    let uuid: string;
    let instanceId: string;
    const t = (): { token: string } => ({ token: stack.token });

    before(async () => {
      uuid = stack.controller.addContainer({ command: ['sleep', '60'], priority: 5 }).uuid;
      await until('the container to run', () => stack.controller.get(uuid)?.state === 'Running', 15_000);
      // The API shows the queue as of the last scheduling pass.
      await until('a scheduling pass to see it running', () =>
        stack.dispatcher.scheduler.queueView().some((v) => v.entry.container.uuid === uuid && v.entry.container.state === 'Running'),
      );
    });

    it('GET containers lists the queue with the reference fields', async () => {
      const r = await call(stack, 'GET', `${API}/containers`, t());
      assert.equal(r.status, 200);
      assert.match(r.contentType, /application\/json/);
      const { items } = r.json<{ items: QueueEntJSON[] }>();
      const ent = items.find((i) => i.container.uuid === uuid);
      assert.ok(ent, r.text);
      // The reference's fields, and ours: what it has cost so far.
      assert.deepEqual(Object.keys(ent).sort(), ['container', 'cost', 'first_seen_at', 'instance_resources', 'instance_types', 'scheduling_status']);
      assert.ok(typeof ent.cost === 'number' && ent.cost >= 0, `cost ${ent.cost}`);
      assert.equal(ent.container.state, 'Running');
      // The whole record, as the reference's arvados.Container encodes (container-json.test.ts has the keys).
      assert.equal(Object.keys(ent.container).length, 35);
      assert.equal(ent.container.runtime_constraints.gpu.device_count, 0);
      assert.equal(ent.container.exit_code, 0);
      assert.match(ent.first_seen_at, RFC3339);
      assert.equal(ent.instance_types[0].ProviderType, 'small');
      assert.equal(ent.instance_types[0].VCPUs, 2);
      assert.deepEqual(Object.keys(ent.instance_resources).sort(), ['GPUVRAM', 'GPUs', 'RAM', 'Scratch', 'VCPUs']);
      assert.equal(ent.scheduling_status, '', 'a running container has no scheduling status');
    });

    it('GET container?container_uuid= shows one entry', async () => {
      const r = await call(stack, 'GET', `${API}/container?container_uuid=${uuid}`, t());
      assert.equal(r.status, 200);
      const ent = r.json<QueueEntJSON>();
      assert.equal(ent.container.uuid, uuid);
      assert.equal(typeof ent.scheduling_status, 'string');
    });

    it('GET instances lists the VM with the reference fields', async () => {
      const r = await call(stack, 'GET', `${API}/instances`, t());
      assert.equal(r.status, 200);
      const { items } = r.json<{ items: InstanceViewJSON[] }>();
      const vm = items.find((i) => i.running_container_uuids?.includes(uuid));
      assert.ok(vm, r.text);
      instanceId = vm.instance;
      // The reference's fields, and ours: what it has cost so far.
      assert.deepEqual(Object.keys(vm).sort(), [
        'address',
        'arvados_instance_type',
        'cost',
        'idle_behavior',
        'instance',
        'last_busy',
        'last_container_uuid',
        'price',
        'provider_instance_type',
        'running_container_uuids',
        'worker_state',
      ]);
      assert.equal(vm.arvados_instance_type, 'small');
      assert.equal(vm.price, 0.1);
      assert.ok(typeof vm.cost === 'number' && vm.cost >= 0, `cost ${vm.cost}`);
      assert.equal(vm.worker_state, 'running');
      assert.equal(vm.idle_behavior, 'run');
      assert.match(vm.last_busy, RFC3339);
      assert.ok(stack.cloud().vm(instanceId), 'the listed id is the cloud VM id');
    });

    it('hold, drain and run set the idle behaviour and the VM tag', async () => {
      const tag = (): string | undefined => stack.cloud().vm(instanceId)?.tags.ArvadosIdleBehavior;
      const behavior = async (): Promise<string | undefined> =>
        (await call(stack, 'GET', `${API}/instances`, t())).json<{ items: InstanceViewJSON[] }>().items.find((i) => i.instance === instanceId)?.idle_behavior;

      const hold = await call(stack, 'POST', `${API}/instances/hold?instance_id=${instanceId}`, t());
      assert.equal(hold.status, 200, hold.text);
      assert.equal(await behavior(), 'hold');
      // The tag follows in the background.
      await until('the hold tag', () => tag() === 'hold', 5000);

      // The parameter may come in a form body too (r.FormValue).
      const drain = await call(stack, 'POST', `${API}/instances/drain`, { ...t(), form: { instance_id: instanceId } });
      assert.equal(drain.status, 200, drain.text);
      assert.equal(await behavior(), 'drain');
      await until('the drain tag', () => tag() === 'drain', 5000);

      // A cloud slow to save the tag does not hold the answer (as the reference, which saves it in the background).
      stack.cloud().holdSetTags();
      try {
        const run = await call(stack, 'POST', `${API}/instances/run?instance_id=${instanceId}`, t());
        assert.equal(run.status, 200, run.text);
        assert.equal(await behavior(), 'run');
        assert.equal(tag(), 'drain', 'the cloud has not saved the tag yet');
      } finally {
        stack.cloud().releaseSetTags();
      }
      await until('the run tag', () => tag() === 'run', 5000);

      // A tag the cloud refuses: the behaviour applies, the answer is 200, the worker warns.
      stack.cloud().configure({ ErrorRateSetTags: 1 });
      try {
        const again = await call(stack, 'POST', `${API}/instances/hold?instance_id=${instanceId}`, t());
        assert.equal(again.status, 200, again.text);
        assert.equal(await behavior(), 'hold');
        await until('the tag warning', () => stack.logs.lines.some((l) => l.includes('error updating tags') && l.includes(instanceId)), 5000);
        assert.equal(tag(), 'run');
      } finally {
        stack.cloud().configure({ ErrorRateSetTags: 0 });
      }
      const run = await call(stack, 'POST', `${API}/instances/run?instance_id=${instanceId}`, t());
      assert.equal(run.status, 200, run.text);
      await until('the run tag again', () => tag() === 'run' && stack.cloud().vm(instanceId)?.tags.ArvadosIdleBehavior === 'run', 5000);
      assert.equal(await behavior(), 'run');
      // Draining a busy VM left its container alone.
      assert.equal(stack.controller.get(uuid)?.state, 'Running');
    });

    it('containers/kill stops the crunch-run: the container ends Cancelled', async () => {
      const r = await call(stack, 'POST', `${API}/containers/kill?container_uuid=${uuid}&reason=test`, t());
      assert.equal(r.status, 200, r.text);
      await until('the container to be cancelled', () => stack.controller.get(uuid)?.state === 'Cancelled', 10_000);
    });

    it('instances/kill destroys the VM now', async () => {
      const r = await call(stack, 'POST', `${API}/instances/kill`, { ...t(), form: { instance_id: instanceId, reason: 'test' } });
      assert.equal(r.status, 200, r.text);
      await until('the VM to be gone from the cloud', () => stack.cloud().vm(instanceId) === undefined || stack.cloud().listVMs().every((vm) => vm.id !== instanceId), 10_000);
      await until('the VM to leave the instance list', async () => {
        const { items } = (await call(stack, 'GET', `${API}/instances`, t())).json<{ items: InstanceViewJSON[] }>();
        return items.every((i) => i.instance !== instanceId || i.worker_state === 'shutdown');
      });
    });
  });

  it('never logs the management token', () => {
    assert.ok(!stack.logs.lines.join('\n').includes(stack.token), 'token found in logs');
  });

  it('answers HEAD / as the status page, without a token', async () => {
    const head = await fetch(`${stack.server.url}/`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.match(head.headers.get('content-type') ?? '', /text\/html/);
  });
});
