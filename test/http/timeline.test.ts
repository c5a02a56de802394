/**
 * The container timeline in a whole dispatcher (in-process, the lame cloud,
 * the test controller over HTTP): a container run to Complete has its
 * moments recorded in order, and the management API serves them with
 * their phases, under the same token as the other routes.
 */
import assert from 'node:assert/strict';
import { createDispatcher, type Dispatcher } from '../../src/dispatcher.js';
import type { TimelineJSON } from '../../src/http/timeline-json.js';
import { call, type Stack, startStack, until } from './helpers.js';

const ROUTE = '/arvados/v1/dispatch/container/timeline';
const RFC3339 = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$/;

describe('container timeline (whole dispatcher, management API)', function () {
  this.timeout(30_000);
  let stack: Stack;
  let uuid: string;

  before(async () => {
    stack = await startStack();
    uuid = stack.controller.addContainer({ command: ['true'], priority: 5 }).uuid;
    await until('the container to complete', () => stack.controller.get(uuid)?.state === 'Complete', 20_000);
    await until('the queue to see it complete', () => stack.dispatcher.timeline.get(uuid)?.events.some((e) => e.kind === 'finished') ?? false);
  });
  after(async () => {
    await stack?.stop();
  });

  it('records first_seen, locked, vm_requested, vm_booted, vm_ready, crunch_run_started, running, finished in order', () => {
    const events = stack.dispatcher.timeline.get(uuid)!.events;
    const order = ['first_seen', 'locked', 'vm_requested', 'vm_booted', 'vm_ready', 'crunch_run_started', 'running', 'finished'];
    assert.deepEqual(
      events.map((e) => e.kind).filter((k) => order.includes(k)),
      order,
      JSON.stringify(events),
    );
    for (let i = 1; i < events.length; i++) assert.ok(events[i].at >= events[i - 1].at, `times go backwards at ${events[i].kind}`);
    const byKind = new Map(events.map((e) => [e.kind, e]));
    const instance = byKind.get('vm_requested')!.detail?.instance;
    assert.deepEqual(byKind.get('vm_requested')!.detail, { instance_type: 'small', instance });
    assert.ok(typeof instance === 'string' && instance !== '' && stack.dispatcher.pool.detail(instance), `${instance} is a real instance id`);
    for (const k of ['vm_booted', 'vm_ready', 'crunch_run_started'] as const) assert.deepEqual(byKind.get(k)!.detail, { instance }, k);
    assert.deepEqual(byKind.get('finished')!.detail, { state: 'Complete' });
    assert.equal(byKind.get('first_seen')!.detail?.created, stack.controller.get(uuid)!.created_at);
  });

  it('GET container/timeline serves the events and the phases', async () => {
    const r = await call(stack, 'GET', `${ROUTE}?container_uuid=${uuid}`, { token: stack.token });
    assert.equal(r.status, 200);
    assert.match(r.contentType, /application\/json/);
    const body = r.json<TimelineJSON>();
    assert.deepEqual(Object.keys(body).sort(), ['container_uuid', 'dropped_events', 'events', 'phases']);
    assert.equal(body.container_uuid, uuid);
    assert.equal(body.dropped_events, 0);
    const stored = stack.dispatcher.timeline.get(uuid)!.events;
    assert.deepEqual(body.events.map((e) => e.kind), stored.map((e) => e.kind));
    for (const e of body.events) assert.match(e.at, RFC3339);
    const req = body.events.find((e) => e.kind === 'vm_requested')!;
    assert.equal(req.instance_type, 'small');
    assert.equal(typeof req.instance, 'string');
    assert.deepEqual(
      body.phases.map((p) => p.phase),
      ['queued', 'locked', 'vm_requested', 'vm_booted', 'vm_ready', 'crunch_run_started', 'running'],
    );
    for (const p of body.phases) {
      assert.match(p.from, RFC3339);
      assert.ok(p.to !== null, `${p.phase} is closed: the container finished`);
      assert.match(p.to, RFC3339);
      assert.equal(p.duration_ms, Date.parse(p.to) - Date.parse(p.from), p.phase);
    }
    // Consecutive: each phase ends where the next begins, the last where the container finished.
    for (let i = 1; i < body.phases.length; i++) assert.equal(body.phases[i].from, body.phases[i - 1].to);
    assert.equal(body.phases.at(-1)!.to, body.events.find((e) => e.kind === 'finished')!.at);
  });

  it('answers 404 for a container it never saw, 400 without container_uuid', async () => {
    const unknown = await call(stack, 'GET', `${ROUTE}?container_uuid=zzzzz-dz642-000000000000000`, { token: stack.token });
    assert.equal(unknown.status, 404);
    assert.deepEqual(unknown.json(), { errors: ['container not found'] });
    const missing = await call(stack, 'GET', ROUTE, { token: stack.token });
    assert.equal(missing.status, 400);
    assert.deepEqual(missing.json(), { errors: ['container_uuid parameter not provided'] });
  });

  it('wants the management token as the other routes do; GET only', async () => {
    const path = `${ROUTE}?container_uuid=${uuid}`;
    assert.equal((await call(stack, 'GET', path)).status, 401);
    assert.equal((await call(stack, 'GET', path, { token: `${stack.token}x` })).status, 403);
    assert.equal((await call(stack, 'GET', `${path}&api_token=${stack.token}`)).status, 200);
    const post = await call(stack, 'POST', path, { token: stack.token });
    assert.equal(post.status, 405);
  });
});

describe('container timeline after a dispatcher restart', function () {
  this.timeout(30_000);
  let stack: Stack;
  let second: Dispatcher | undefined;

  after(async () => {
    await second?.stop();
    await stack?.stop();
  });

  it('a container found running on a VM is first seen Running, with its created time, and adopted on that VM', async () => {
    stack = await startStack();
    const uuid = stack.controller.addContainer({ command: ['sleep', '60'], priority: 5 }).uuid;
    await until('the container to run', () => stack.controller.get(uuid)?.state === 'Running', 20_000);
    const instance = stack.dispatcher.timeline.get(uuid)!.events.find((e) => e.kind === 'crunch_run_started')?.detail?.instance;
    assert.equal(typeof instance, 'string');
    await stack.dispatcher.stop();

    // The same cloud and config: the new dispatcher adopts what the first left running.
    second = await createDispatcher(stack.dispatcher.cluster, { logger: stack.dispatcher.logger });
    second.start();
    const d = second;
    await until('the new dispatcher to adopt the container', () => {
      const kinds = d.timeline.get(uuid)?.events.map((e) => e.kind) ?? [];
      return kinds.includes('adopted') && kinds.includes('first_seen');
    });
    const events = d.timeline.get(uuid)!.events;
    assert.deepEqual(events.find((e) => e.kind === 'adopted')!.detail, { instance });
    const first = events.find((e) => e.kind === 'first_seen')!;
    assert.equal(first.detail?.state, 'Running');
    assert.equal(first.detail?.created, stack.controller.get(uuid)!.created_at);
    assert.ok(!events.some((e) => e.kind === 'crunch_run_started' || e.kind === 'vm_requested'), 'nothing started or created again');
    stack.controller.cancel(uuid, 'test over');
  });
});
