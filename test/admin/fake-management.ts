/**
 * A stand-in for a running dispatcher's management API (ARVADOS.md section
 * 7): the documented paths, auth rules and error shape, canned items, and a
 * record of every request so tests can check what the CLI sent.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { InstanceItem } from '../../src/admin/format.js';
import { NOT_DISPATCHING_HEADER } from '../../src/http/not-dispatching.js';

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, string>;
  authorization?: string;
}

export const TOKEN = 'mgmtTokenForTheAdminTests0123456789abcdef';

export const INSTANCES = [
  {
    instance: 'lame-0000000001',
    address: '127.0.0.1:40001',
    price: 0.1,
    arvados_instance_type: 'small',
    provider_instance_type: 'small',
    last_container_uuid: 'zzzzz-dz642-000000000000001',
    last_busy: '2024-05-01T12:34:56.789Z',
    running_container_uuids: ['zzzzz-dz642-000000000000001'],
    worker_state: 'running',
    idle_behavior: 'run',
  },
  {
    instance: 'lame-0000000002-with-a-long-name',
    address: '',
    price: 0.0116,
    arvados_instance_type: 'large',
    provider_instance_type: 'm5.4xlarge',
    last_container_uuid: '',
    last_busy: '0001-01-01T00:00:00Z',
    running_container_uuids: [],
    worker_state: 'booting',
    idle_behavior: 'hold',
  },
];

export const CONTAINERS = [
  {
    container: { uuid: 'zzzzz-dz642-000000000000001', state: 'Running', priority: 500 },
    // As the reference encodes them: Go's InstanceType without its Name.
    instance_types: [
      { ProviderType: 'small', VCPUs: 2, RAM: 4294967296, IncludedScratch: 0, AddedScratch: 0, Price: 0.1, Preemptible: false },
      { ProviderType: 'm5.4xlarge', VCPUs: 16, RAM: 68719476736, IncludedScratch: 0, AddedScratch: 0, Price: 0.8, Preemptible: false },
    ],
    first_seen_at: '2024-05-01T12:00:00Z',
    scheduling_status: '',
  },
  {
    container: { uuid: 'zzzzz-dz642-000000000000002', state: 'Queued', priority: 1 },
    instance_types: ['huge'],
    first_seen_at: '2024-05-01T12:01:00Z',
    scheduling_status: 'waiting for a cloud VM: the cloud reported insufficient capacity for this instance type in every zone we tried over the last hour',
  },
];

/** What GET container answers for WHY_ITEM's uuid: a Locked container waiting on capacity, with the structured blocker. */
export const WHY_ITEM = {
  container: { uuid: 'zzzzz-dz642-000000000000003', state: 'Locked', priority: 500 },
  instance_types: [],
  first_seen_at: '2024-05-01T12:00:00Z',
  scheduling_status:
    'Waiting in queue at position 3.  Cluster is at capacity for all eligible instance types (m5.large, m5.xlarge) and cannot start a new instance right now.',
  blocker: {
    reason: 'types_at_capacity',
    position: 3,
    types: [
      { name: 'm5.large', scope: 'type', since: '2024-05-01T12:02:03.000Z', until: '2024-05-01T12:03:03.000Z', error: 'InsufficientInstanceCapacity' },
      { name: 'm5.xlarge', scope: 'group', since: '2024-05-01T12:02:10.000Z', until: '2024-05-01T12:03:10.000Z', error: 'InsufficientInstanceCapacity' },
    ],
    ahead: { containers: 2, vcpus: 8, ram_bytes: 34359738368 },
    price_cap: { maximum_price_factor: 1.5, types: [{ name: 'm5.2xlarge', price: 0.384, now: 'can be created' }] },
  },
};

export const WHY_TIMELINE = {
  container_uuid: WHY_ITEM.container.uuid,
  events: [
    { at: '2024-05-01T12:00:00Z', kind: 'first_seen' },
    { at: '2024-05-01T12:00:00.2Z', kind: 'locked' },
    { at: '2024-05-01T12:02:03Z', kind: 'vm_requested', instance_type: 'm5.large' },
  ],
  phases: [],
};

export class FakeManagementServer {
  readonly requests: RecordedRequest[] = [];
  /** What GET instances lists (null as the reference's empty list). */
  instances: InstanceItem[] | null = INSTANCES;
  /** Set: answers every authorised request 503 with this error (a container's status 404, saying so), as a dispatcher waiting for the dispatch lock does. */
  standby?: string;
  private server?: http.Server;
  url = '';

  async start(): Promise<void> {
    this.server = http.createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server?.close(() => resolve()) ?? resolve());
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const u = new URL(req.url ?? '/', 'http://x');
    const query = Object.fromEntries(u.searchParams);
    this.requests.push({ method: req.method ?? '', path: u.pathname, query, authorization: req.headers.authorization });
    const reply = (status: number, body: unknown): void => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    const auth = req.headers.authorization;
    if (!auth) return reply(401, { errors: ['authorization required'] });
    if (auth !== `Bearer ${TOKEN}`) return reply(403, { errors: ['permission denied'] });

    const route = `${req.method} ${u.pathname}`;
    if (this.standby !== undefined && route === 'GET /arvados/v1/dispatch/container') {
      res.setHeader(NOT_DISPATCHING_HEADER, this.standby);
      return reply(404, { errors: [`container not found: ${this.standby}`] });
    }
    if (this.standby !== undefined) return reply(503, { errors: [this.standby] });
    const ids = new Set(INSTANCES.map((i) => i.instance));
    const m = /^POST \/arvados\/v1\/dispatch\/instances\/(hold|drain|run|kill)$/.exec(route);
    if (route === 'GET /arvados/v1/dispatch/instances') return reply(200, { items: this.instances });
    if (route === 'GET /arvados/v1/dispatch/containers') return reply(200, { items: CONTAINERS });
    if (route === 'GET /arvados/v1/dispatch/container') {
      if (query.container_uuid === WHY_ITEM.container.uuid) return reply(200, WHY_ITEM);
      if (query.container_uuid === CONTAINERS[0]!.container.uuid) return reply(200, CONTAINERS[0]);
      return reply(404, { errors: ['container not found'] });
    }
    if (route === 'GET /arvados/v1/dispatch/container/timeline') {
      if (query.container_uuid === WHY_ITEM.container.uuid) return reply(200, WHY_TIMELINE);
      return reply(404, { errors: ['no timeline for that container'] });
    }
    if (m) {
      if (!query.instance_id) return reply(400, { errors: ['instance_id parameter not provided'] });
      // The daemon's own words (src/http/api.ts), which do not name the instance.
      if (!ids.has(query.instance_id)) return reply(404, { errors: [m[1] === 'kill' ? 'instance not found' : 'requested instance does not exist'] });
      return reply(200, {});
    }
    if (route === 'POST /arvados/v1/dispatch/containers/kill') {
      if (!query.container_uuid) return reply(400, { errors: ['container_uuid parameter not provided'] });
      if (query.container_uuid !== CONTAINERS[0]!.container.uuid) return reply(404, { errors: ['container not found'] });
      return reply(200, {});
    }
    if (u.pathname === '/broken') {
      res.writeHead(500);
      res.end('internal error, not json');
      return;
    }
    reply(404, { errors: ['not found'] });
  }
}
