/**
 * The lame driver against a lame cloud server (`startLameCloudServer`, here
 * in the test's process, over real HTTP): the driver conformance suite with
 * faults injected through the server's test endpoints, fault knobs from the
 * server's parameters, instance sets that share the server's VMs, and the
 * client's behaviour when the server is not there.
 */
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import type { AddressInfo } from 'node:net';
import { CapacityError, isCapacityError, isQuotaError, isRateLimitError, QuotaError, RateLimitError } from '../../../src/cloud/errors.js';
import type { Instance, InstanceSet } from '../../../src/cloud/types.js';
import { systemClock } from '../../../src/clock/index.js';
import { createLogger, LineCollector } from '../../../src/log.js';
import {
  LameCloudAdmin,
  LameCloudUnreachableError,
  lameDriver,
  LameParamsError,
  type LameCloudServer,
  RemoteLameInstanceSet,
  startLameCloudServer,
} from '../../../drivers/lame/index.js';
import { type ConformanceSetup, describeDriverConformance } from '../../cloud/conformance.js';
import { createArgs, DISPATCH_KEY, LARGE, makeCluster, makeContext, SMALL, waitFor } from './helpers.js';

/** Starts a lame cloud server on a free loopback port with these DriverParameters. */
async function startServer(params: Record<string, unknown> = {}): Promise<LameCloudServer> {
  const cluster = makeCluster();
  cluster.Containers.CloudVMs.DriverParameters = { CloudURL: 'http://127.0.0.1:0', MinBootTime: 0, MaxBootTime: 0, ...params };
  return startLameCloudServer({ cluster, logger: createLogger({ stream: new LineCollector(), level: 'error' }) });
}

/** A remote instance set, as a dispatcher whose DriverParameters name the server would build. */
async function remoteSet(url: string, instanceSetId?: string): Promise<InstanceSet> {
  return lameDriver({ CloudURL: url }, makeContext({ instanceSetId }));
}

describeDriverConformance('lame (remote, over HTTP)', async (): Promise<ConformanceSetup> => {
  const server = await startServer();
  const admin = new LameCloudAdmin(server.url);
  const remote = await remoteSet(server.url);
  // The suite's fault hooks are synchronous; the test endpoint is not. Creates
  // wait for the faults asked for before them, so each applies to the right create.
  let faults: Promise<void> = Promise.resolve();
  const fault = (error: Parameters<LameCloudAdmin['failNextCreate']>[0]): void => {
    faults = faults.then(() => admin.failNextCreate(error));
  };
  const instanceSet: InstanceSet = {
    create: async (...args) => {
      await faults;
      return remote.create(...args);
    },
    instances: (filter) => remote.instances(filter),
    stop: () => remote.stop(),
  };
  return {
    instanceSet,
    instanceTypes: [SMALL, LARGE],
    imageId: 'lame-image',
    publicKey: DISPATCH_KEY.public,
    faults: {
      nextCreateRateLimited: () => fault({ class: 'RateLimitError', message: 'lame: slow down', earliestRetry: systemClock.now() + 60_000 }),
      nextCreateQuota: () => fault({ class: 'QuotaError', message: 'lame: quota exceeded' }),
      nextCreateCapacity: (providerType) => fault({ class: 'CapacityError', message: `lame: no capacity for ${providerType}`, instanceType: providerType }),
    },
    cleanup: async () => {
      remote.stop();
      await server.close();
    },
  };
});

describe('lame driver with CloudURL (remote)', function () {
  this.timeout(20_000);
  let server: LameCloudServer;
  const sets: InstanceSet[] = [];

  afterEach(async () => {
    for (const s of sets.splice(0)) s.stop();
    await server?.close();
  });

  async function set(url = server.url, instanceSetId = 'remote-test'): Promise<InstanceSet> {
    const s = await remoteSet(url, instanceSetId);
    sets.push(s);
    return s;
  }

  async function create(s: InstanceSet, type = SMALL, instanceSetId = 'remote-test'): Promise<Instance> {
    const a = createArgs(instanceSetId, type.Name);
    return s.create(type, 'img', a.tags, a.init, DISPATCH_KEY.public);
  }

  it('is a RemoteLameInstanceSet whose instances have an SSH address on 127.0.0.1 and the remote user', async () => {
    server = await startServer({ AdminUsername: 'worker' });
    const s = await set();
    assert.ok(s instanceof RemoteLameInstanceSet);
    const inst = await create(s);
    assert.match(inst.address, /^127\.0\.0\.1:\d+$/);
    assert.equal(inst.remoteUser, 'worker');
    assert.equal(inst.providerType, SMALL.ProviderType);
    assert.equal(server.cloud.vm(inst.id)?.address, inst.address);
    await assert.rejects(inst.verifyHostKey(Buffer.alloc(0), undefined as never), { name: 'HostKeyVerificationNotImplemented' });
  });

  it('instance sets of several dispatchers (and a restarted one) see the same VMs; stop() leaves them alone', async () => {
    server = await startServer();
    const first = await set();
    const inst = await create(first);
    await inst.setTags({ ...inst.tags, ArvadosIdleBehavior: 'hold' });
    first.stop();
    await assert.rejects(first.instances({}), /after stop\(\)/);
    assert.equal(server.cloud.vm(inst.id)?.state, 'running', 'stop() must not touch the remote VM');

    const restarted = await set();
    const listed = await restarted.instances({ ArvadosInstanceSetID: 'remote-test' });
    assert.deepEqual(
      listed.map((i) => [i.id, i.tags.ArvadosIdleBehavior, i.address]),
      [[inst.id, 'hold', inst.address]],
    );
    const other = await set(server.url, 'another-dispatcher');
    assert.deepEqual(await other.instances({ ArvadosInstanceSetID: 'another-dispatcher' }), []);
    await listed[0].destroy();
    assert.deepEqual(await other.instances({ ArvadosInstanceSetID: 'remote-test' }), []);
  });

  it('re-raises the classes of faults the server parameters cause, with their details', async () => {
    server = await startServer({ QuotaMaxInstances: 1, CapacityErrorTypes: [LARGE.ProviderType] });
    const s = await set();
    await create(s);
    const quota = await create(s).catch((e: unknown) => e);
    assert.ok(isQuotaError(quota) && quota instanceof QuotaError, `expected QuotaError, got ${String(quota)}`);
    const cap = await create(s, LARGE).catch((e: unknown) => e);
    assert.ok(cap instanceof CapacityError, `expected CapacityError, got ${String(cap)}`);
    assert.equal(cap.instanceType, LARGE.ProviderType);

    await new LameCloudAdmin(server.url).configure({ QuotaMaxInstances: 0, ErrorRateCreate: 1 });
    const plain = await create(s).catch((e: unknown) => e);
    assert.ok(plain instanceof Error && plain.constructor === Error, `expected a plain Error, got ${String(plain)}`);
    assert.match(plain.message, /ErrorRateCreate/);
    assert.ok(!isQuotaError(plain) && !isCapacityError(plain) && !isRateLimitError(plain));
  });

  it('carries RateLimitError.earliestRetry and CapacityError.quotaGroup across', async () => {
    server = await startServer();
    server.cloud.failNextCreate(new RateLimitError('throttled', 1_900_000_000_000));
    server.cloud.failNextCreate(new CapacityError('family full', { quotaGroup: 'm5' }));
    const s = await set();
    const rl = await create(s).catch((e: unknown) => e);
    assert.ok(rl instanceof RateLimitError);
    assert.equal(rl.earliestRetry, 1_900_000_000_000);
    const cap = await create(s).catch((e: unknown) => e);
    assert.ok(cap instanceof CapacityError);
    assert.equal(cap.quotaGroup, 'm5');
    assert.equal(cap.instanceType, undefined);
  });

  it('setTags on an instance the cloud no longer lists fails; destroying it again does not', async () => {
    server = await startServer();
    const s = await set();
    const inst = await create(s);
    await inst.destroy();
    await assert.rejects(inst.setTags({}), /not found/);
    await inst.destroy();
  });

  it('retries a list while the server is unreachable, and recovers when it comes up', async () => {
    const port = await freePort();
    const out = new LineCollector();
    const ctx = { ...makeContext(), logger: createLogger({ stream: out, level: 'warn' }) };
    const s = new RemoteLameInstanceSet(`http://127.0.0.1:${port}`, ctx, { attempts: 30, firstBackoffMs: 20, requestTimeoutMs: 5000 });
    sets.push(s);
    const listing = s.instances({});
    await waitFor('a failed attempt', () => out.lines.some((l) => l.includes('retrying')), 5000, 5);
    server = await startServer({ CloudURL: `http://127.0.0.1:${port}` });
    assert.deepEqual(await listing, []);
  });

  it('gives up with an error naming the CloudURL when nothing answers; a create is tried once', async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    const out = new LineCollector();
    const ctx = { ...makeContext(), logger: createLogger({ stream: out, level: 'warn' }) };
    const s = new RemoteLameInstanceSet(url, ctx, { attempts: 3, firstBackoffMs: 5, requestTimeoutMs: 5000 });
    sets.push(s);
    const err = await s.instances({}).catch((e: unknown) => e);
    assert.ok(err instanceof LameCloudUnreachableError, String(err));
    assert.ok(err.message.includes(url) && err.message.includes('CloudURL'), err.message);
    assert.match(err.message, /after 3 attempts: .*ECONNREFUSED/);
    assert.equal(out.lines.filter((l) => l.includes('retrying')).length, 2);
    const a = createArgs('x');
    const createErr = await s.create(SMALL, 'img', a.tags, a.init, '').catch((e: unknown) => e);
    assert.ok(createErr instanceof LameCloudUnreachableError);
    assert.doesNotMatch(createErr.message, /attempts/);
    assert.equal(out.lines.filter((l) => l.includes('retrying')).length, 2, 'a create is not retried');
  });

  it('says clearly when something else answers at the CloudURL', async () => {
    const other = http.createServer((_req, res) => res.writeHead(404, { 'Content-Type': 'text/html' }).end('<h1>Not Found</h1>'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    try {
      const odd = new RemoteLameInstanceSet(`http://127.0.0.1:${(other.address() as AddressInfo).port}`, makeContext());
      sets.push(odd);
      await assert.rejects(odd.instances({}), /unexpected answer from http:\/\/127\.0\.0\.1:\d+ to GET \/v1\/instances: HTTP 404 <h1>Not Found/);
    } finally {
      other.closeAllConnections();
      await new Promise<void>((resolve) => other.close(() => resolve()));
    }
  });

  it('validates CloudURL, and refuses Transport inprocess with it', async () => {
    const ctx = makeContext();
    for (const bad of ['ftp://127.0.0.1:9100', 'not a url', 'http://127.0.0.1:9100/path', 'http://u:p@127.0.0.1:9100', '']) {
      assert.throws(() => lameDriver({ CloudURL: bad }, ctx), (e: unknown) => e instanceof LameParamsError && /DriverParameters\.CloudURL/.test(e.message), bad);
    }
    assert.throws(
      () => lameDriver({ CloudURL: 'http://127.0.0.1:9100', Transport: 'inprocess' }, ctx),
      /DriverParameters\.Transport: must be "ssh" when CloudURL is set/,
    );
    const s = (await lameDriver({ CloudURL: 'http://127.0.0.1:9100/', Transport: 'ssh' }, ctx)) as RemoteLameInstanceSet;
    assert.equal(s.cloudURL, 'http://127.0.0.1:9100');
  });
});

describe('lame cloud server start', function () {
  this.timeout(10_000);

  it('refuses a config without CloudURL, with another driver, or with bad parameters, naming the key', async () => {
    const log = createLogger({ stream: new LineCollector() });
    const cluster = makeCluster();
    await assert.rejects(startLameCloudServer({ cluster, logger: log }), /Clusters\.zzzzz\.Containers\.CloudVMs\.DriverParameters\.CloudURL: required/);
    cluster.Containers.CloudVMs.DriverParameters = { CloudURL: 'http://127.0.0.1:0', ErrorRateCreate: 2 };
    await assert.rejects(startLameCloudServer({ cluster, logger: log }), /Clusters\.zzzzz\.Containers\.CloudVMs\.DriverParameters\.ErrorRateCreate/);
    cluster.Containers.CloudVMs.Driver = 'ec2';
    await assert.rejects(startLameCloudServer({ cluster, logger: log }), { name: 'LameCloudConfigError', message: /CloudVMs\.Driver/ });
  });

  it('refuses a port that is taken, saying so', async () => {
    const first = await startServer();
    try {
      await assert.rejects(startServer({ CloudURL: first.url }), { name: 'LameCloudListenError', message: /already in use/ });
    } finally {
      await first.close();
    }
  });

  it('close() terminates every VM and is idempotent', async () => {
    const server = await startServer();
    const s = await remoteSet(server.url);
    const a = createArgs('x');
    const inst = await s.create(SMALL, 'img', a.tags, a.init, DISPATCH_KEY.public);
    const vm = server.cloud.vm(inst.id)!;
    await Promise.all([server.close(), server.close()]);
    assert.equal(vm.state, 'terminated');
    s.stop();
  });
});

/** A loopback port nothing listens on (it was free a moment ago). */
async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((resolve) => srv.close(() => resolve()));
  return port;
}
