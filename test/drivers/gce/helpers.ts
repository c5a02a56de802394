/**
 * Shared fixtures for the gce driver's tests: the local Compute endpoint,
 * instance types, and a driver pointed at it with the real client.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { DriverContext, Instance, InstanceTags } from '../../../src/cloud/types.js';
import { type Clock, systemClock } from '../../../src/clock/index.js';
import type { Cluster, InstanceType } from '../../../src/config/types.js';
import { createLogger, LineCollector } from '../../../src/log.js';
import type { ProxyEnv } from '../../../src/net/proxy.js';
import { initCommandForSecret } from '../../../src/arvados/crunch-run.js';
import { buildClients } from '../../../drivers/gce/client.js';
import { type GceDriverOptions, GceInstanceSet, parseGceParams } from '../../../drivers/gce/index.js';
import { FakeGCE, type FakeGCEOptions } from '../../fixtures/gce/server.js';
import { DISPATCH_KEY, instanceType, makeCluster } from '../lame/helpers.js';

export { DISPATCH_KEY };

export const PROJECT = 'arvados-test';
export const ZONES = ['us-central1-a', 'us-central1-b'];
export const N2 = instanceType('n2standard2', 'n2-standard-2');
export const E2 = instanceType('e2medium', 'e2-medium');
export const SPOT: InstanceType = { ...instanceType('n2standard2.preemptible', 'n2-standard-2'), Preemptible: true, Price: 0.03 };
export const SCRATCH: InstanceType = { ...instanceType('n2scratch', 'n2-standard-4'), AddedScratch: 50 * 2 ** 30 + 1, Scratch: 60 * 2 ** 30 };
export const IMAGE = 'projects/debian-cloud/global/images/family/debian-12';

export function gceCluster(types: InstanceType[] = [N2, E2, SPOT, SCRATCH]): Cluster {
  const cluster = makeCluster();
  cluster.InstanceTypes = Object.fromEntries(types.map((t) => [t.Name, t]));
  cluster.Containers.CloudVMs.Driver = 'gce';
  return cluster;
}

export async function startFake(opts: ConstructorParameters<typeof FakeGCE>[0] = {}): Promise<FakeGCE> {
  const fake = new FakeGCE(opts);
  await fake.start();
  return fake;
}

export function fakeParams(fake: FakeGCE, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { Project: PROJECT, Zone: ZONES, Endpoint: fake.url, ...extra };
}

export interface DriverHarness {
  driver: GceInstanceSet;
  ctx: DriverContext;
  logs: LineCollector;
}

export interface DriverOpts {
  params?: Record<string, unknown>;
  options?: Partial<GceDriverOptions>;
  clock?: Clock;
  cluster?: Cluster;
  /** The proxy variables the clients read (buildClients' `env`). Default none, whatever the test runner's environment holds. */
  env?: ProxyEnv;
}

export async function makeDriver(fake: FakeGCE, opts: DriverOpts = {}): Promise<DriverHarness> {
  const logs = new LineCollector();
  const ctx: DriverContext = {
    instanceSetId: `gce-test-${randomBytes(4).toString('hex')}`,
    cluster: opts.cluster ?? gceCluster(),
    logger: createLogger({ stream: logs, level: 'debug' }),
    clock: opts.clock ?? systemClock,
  };
  const { params } = parseGceParams(opts.params ?? fakeParams(fake));
  const clients = await buildClients(params, { env: opts.env ?? {}, logger: ctx.logger });
  // Short waits keep the tests fast; the attempt count is the production one.
  const driver = new GceInstanceSet(params, ctx, { clients, retryDelayMs: 5, operationPollMs: 5, ...opts.options });
  return { driver, ctx, logs };
}

/** Tags and init command as the pool gives them to create. */
export function createArgs(instanceSetId: string, typeName = N2.Name): { tags: InstanceTags; init: string } {
  const secret = randomBytes(20).toString('hex');
  return {
    tags: { ArvadosInstanceSetID: instanceSetId, ArvadosInstanceType: typeName, ArvadosIdleBehavior: 'run', ArvadosInstanceSecret: secret },
    init: initCommandForSecret(secret),
  };
}

/** The driver's options, or a function of the fake that gives them (for params naming its URL). */
export type DriverOptsFor = DriverOpts | ((fake: FakeGCE) => DriverOpts);

/**
 * A local Compute endpoint and a driver on it, started anew for each test by
 * driverPerTest: the fields are the current test's.
 */
export class DriverFixture implements DriverHarness {
  fake!: FakeGCE;
  driver!: GceInstanceSet;
  ctx!: DriverContext;
  logs!: LineCollector;

  constructor(
    private readonly driverOpts: DriverOptsFor = {},
    private readonly fakeOpts: FakeGCEOptions = {},
  ) {}

  get setId(): string {
    return this.ctx.instanceSetId;
  }

  /** A create as the pool asks for it, by this driver's instance set; `tags` replaces the ones it would send. */
  create(type: InstanceType = N2, tags?: InstanceTags): Promise<Instance> {
    const args = createArgs(this.setId, type.Name);
    return this.driver.create(type, IMAGE, tags ?? args.tags, args.init, DISPATCH_KEY.public);
  }

  /** Stops this test's driver and puts another on the same fake, with `opts` instead of the describe's. */
  async newDriver(opts: DriverOptsFor = this.driverOpts): Promise<void> {
    this.driver.stop();
    await this.attach(opts);
  }

  /** Stops this test's fake and driver, and starts another fake with `fakeOpts` and a driver on it. */
  async newFake(fakeOpts: FakeGCEOptions): Promise<void> {
    await this.stop();
    await this.start(fakeOpts);
  }

  async start(fakeOpts = this.fakeOpts): Promise<void> {
    this.fake = await startFake(fakeOpts);
    await this.attach(this.driverOpts);
  }

  async stop(): Promise<void> {
    this.driver.stop();
    await this.fake.stop();
  }

  private async attach(opts: DriverOptsFor): Promise<void> {
    ({ driver: this.driver, ctx: this.ctx, logs: this.logs } = await makeDriver(this.fake, typeof opts === 'function' ? opts(this.fake) : opts));
  }
}

/**
 * Call inside a describe: registers the beforeEach that starts a fake and a
 * driver on it (with these options) and the afterEach that stops both, so
 * each of its tests has its own, in the fixture returned.
 */
export function driverPerTest(opts: { driver?: DriverOptsFor; fake?: FakeGCEOptions } = {}): DriverFixture {
  const fixture = new DriverFixture(opts.driver, opts.fake);
  beforeEach(() => fixture.start());
  afterEach(() => fixture.stop());
  return fixture;
}

/** What `p` is rejected with; the test fails if it resolves. */
export function failure(p: Promise<unknown>, message = 'create should have failed'): Promise<unknown> {
  return p.then(
    () => assert.fail(message),
    (e: unknown) => e,
  );
}
