/**
 * The routes of the lame cloud server: the cloud API the remote driver calls
 * (create, list, tags, destroy) and the test endpoints an end-to-end test
 * uses to inject faults into VMs that live in this process (break a VM,
 * crash a crunch-run, fail the next create, change a knob). Request and
 * response bodies are JSON; shapes are in `protocol.ts`.
 *
 * Request bodies are never logged: a create carries the instance secret in
 * its tags and init command.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { InstanceTags } from '../../src/cloud/types.js';
import type { Clock } from '../../src/clock/index.js';
import type { InstanceType } from '../../src/config/types.js';
import type { Logger } from '../../src/log.js';
import type { LameCloud } from './cloud.js';
import { parseLameParams } from './params.js';
import {
  API_PREFIX,
  errorFromWire,
  errorToWire,
  instanceToWire,
  isWireError,
  LameHttpError,
  parseTags,
  vmToWire,
  type WireCreateRequest,
} from './protocol.js';
import type { LameVM } from './vm.js';

/** Larger bodies are refused: a create is a few KiB (init command, public key, tags). */
const MAX_BODY_BYTES = 1 << 20;

export interface RouteContext {
  cloud: LameCloud;
  logger: Logger;
  clock: Clock;
  /** The DriverParameters in force, as given (changes through `/v1/configure` are merged in). */
  state: { raw: Record<string, unknown> };
}

/** Answers one request; never rejects (every failure becomes a JSON error answer). */
export async function handleRequest(req: IncomingMessage, res: ServerResponse, ctx: RouteContext): Promise<void> {
  const started = ctx.clock.now();
  const url = new URL(req.url ?? '/', 'http://lame.invalid');
  const method = req.method ?? 'GET';
  let status: number;
  try {
    const body = await readBody(req);
    const result = await route(method, url, body, ctx);
    status = result.status;
    send(res, result.status, result.body);
  } catch (err) {
    const wire = errorToWire(err);
    status = wire.status;
    send(res, wire.status, wire.body);
  }
  // The path only: a query is a tag filter, and nothing here needs it in a log.
  ctx.logger.debug('lame cloud: request', { Method: method, Path: url.pathname, Status: status, DurationMs: ctx.clock.now() - started });
}

interface RouteResult {
  status: number;
  body?: unknown;
}

async function route(method: string, url: URL, body: unknown, ctx: RouteContext): Promise<RouteResult> {
  const { cloud } = ctx;
  const path = url.pathname;
  if (!path.startsWith(`${API_PREFIX}/`)) throw new LameHttpError(404, `no such path: ${path}`);
  let parts: string[];
  try {
    parts = path
      .slice(API_PREFIX.length + 1)
      .split('/')
      .map((p) => decodeURIComponent(p));
  } catch {
    throw new LameHttpError(400, `malformed path: ${path}`);
  }
  const [resource, id, action] = parts;
  const want = (m: string): void => {
    if (method !== m) throw new LameHttpError(405, `${method} ${path}: method not allowed (use ${m})`);
  };

  switch (resource) {
    case 'ping':
      want('GET');
      return { status: 200, body: { cloud: cloud.name, vms: cloud.listVMs().length } };

    case 'instances': {
      if (id === undefined) {
        if (method === 'GET') {
          const filter: InstanceTags = {};
          for (const [k, v] of url.searchParams) filter[k] = v;
          return { status: 200, body: { instances: cloud.listMatching(filter).map(instanceToWire) } };
        }
        want('POST');
        const reqBody = parseCreate(body);
        const vm = await cloud.createVM(reqBody.instanceType, reqBody.imageId, reqBody.tags, reqBody.initCommand, reqBody.publicKey);
        return { status: 201, body: { instance: instanceToWire(vm) } };
      }
      if (parts.length === 2) {
        want('DELETE');
        const vm = cloud.vm(id);
        // Already gone (DestroyDelay passed): destroying it again is not an error.
        if (vm) await cloud.destroyVM(vm);
        return { status: 204 };
      }
      if (parts.length === 3 && action === 'tags') {
        want('PUT');
        const tags = parseTags(field(body, 'tags'), 'tags');
        const vm = mustFindVM(cloud, id);
        cloud.setTags(vm, tags);
        return { status: 200, body: { instance: instanceToWire(vm) } };
      }
      break;
    }

    // ------------------------------------------------------------ test endpoints

    case 'vms': {
      if (id === undefined) {
        want('GET');
        return { status: 200, body: { vms: cloud.listVMs().map(vmToWire) } };
      }
      if (parts.length === 2) {
        want('GET');
        return { status: 200, body: { vm: vmToWire(mustFindVM(cloud, id)) } };
      }
      want('POST');
      const vm = mustFindVM(cloud, id);
      switch (action) {
        case 'break':
          vm.break();
          return { status: 200, body: { vm: vmToWire(vm) } };
        case 'boot':
          vm.setBooted();
          return { status: 200, body: { vm: vmToWire(vm) } };
        case 'drop-connections':
          vm.dropConnections();
          return { status: 200, body: { vm: vmToWire(vm) } };
        case 'crash-crunch-run': {
          const uuid = field(body, 'uuid');
          if (typeof uuid !== 'string' || uuid === '') throw new LameHttpError(400, 'uuid: expected a container UUID');
          const stale = field(body, 'staleLockMs');
          if (stale !== undefined && (typeof stale !== 'number' || !(stale >= 0))) {
            throw new LameHttpError(400, 'staleLockMs: expected a non-negative number of ms');
          }
          if (!vm.crashCrunchRun(uuid, stale === undefined ? {} : { staleLockMs: stale })) {
            throw new LameHttpError(404, `no live crunch-run for ${uuid} on ${vm.id}`);
          }
          return { status: 200, body: { vm: vmToWire(vm) } };
        }
      }
      break;
    }

    case 'fail-next-create': {
      want('POST');
      const error = field(body, 'error');
      if (!isWireError(error)) throw new LameHttpError(400, 'error: expected {"class": ..., "message": ...}');
      cloud.failNextCreate(errorFromWire(error));
      return { status: 200, body: {} };
    }

    case 'configure': {
      want('POST');
      const changes = field(body, 'parameters');
      if (typeof changes !== 'object' || changes === null || Array.isArray(changes)) {
        throw new LameHttpError(400, 'parameters: expected a mapping of DriverParameters');
      }
      for (const fixed of ['CloudURL', 'Transport', 'Seed', 'CloudName']) {
        if (Object.hasOwn(changes, fixed)) throw new LameHttpError(400, `DriverParameters.${fixed}: cannot change while the cloud runs`);
      }
      const raw = { ...ctx.state.raw, ...(changes as Record<string, unknown>) };
      let parsed;
      try {
        parsed = parseLameParams(raw);
      } catch (err) {
        throw new LameHttpError(400, (err as Error).message);
      }
      cloud.configure(parsed);
      ctx.state.raw = raw;
      ctx.logger.info('lame cloud: parameters changed', { Changed: Object.keys(changes) });
      return { status: 200, body: { parameters: ctx.state.raw } };
    }

    case 'calls':
      want('GET');
      return { status: 200, body: { calls: cloud.callCounts() } };
  }
  throw new LameHttpError(404, `no such path: ${method} ${path}`);
}

function mustFindVM(cloud: LameCloud, id: string): LameVM {
  const vm = cloud.vm(id);
  if (!vm) throw new LameHttpError(404, `lame: instance ${id} not found`);
  return vm;
}

function field(body: unknown, name: string): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return undefined;
  return (body as Record<string, unknown>)[name];
}

function parseCreate(body: unknown): WireCreateRequest {
  const type = field(body, 'instanceType') as Partial<InstanceType> | undefined;
  if (typeof type !== 'object' || type === null || typeof type.Name !== 'string' || typeof type.ProviderType !== 'string' || type.ProviderType === '') {
    throw new LameHttpError(400, 'instanceType: expected an instance type with Name and ProviderType');
  }
  const str = (name: string): string => {
    const v = field(body, name);
    if (typeof v !== 'string') throw new LameHttpError(400, `${name}: expected a string`);
    return v;
  };
  return {
    instanceType: type as InstanceType,
    imageId: str('imageId'),
    tags: parseTags(field(body, 'tags'), 'tags'),
    initCommand: str('initCommand'),
    publicKey: str('publicKey'),
  };
}

/** The request's JSON body (undefined when empty); throws LameHttpError for too much or bad JSON. */
async function readBody(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_BODY_BYTES) throw new LameHttpError(413, `request body larger than ${MAX_BODY_BYTES} bytes`);
    chunks.push(chunk);
  }
  if (size === 0) return undefined;
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as unknown;
  } catch (err) {
    throw new LameHttpError(400, `request body is not JSON: ${(err as Error).message}`);
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) }).end(text);
}
