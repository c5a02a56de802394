/**
 * Shared fixtures for the ec2 driver's tests: the fake EC2 endpoint, instance
 * types, a cluster and a driver pointed at the fake with the real SDK.
 */
import { randomBytes } from 'node:crypto';
import type { Registry } from 'prom-client';
import type { DriverContext, InstanceTags } from '../../../src/cloud/types.js';
import { type Clock, systemClock } from '../../../src/clock/index.js';
import type { Cluster, InstanceType } from '../../../src/config/types.js';
import { createLogger, LineCollector, type Logger, silentLogger } from '../../../src/log.js';
import { initCommandForSecret } from '../../../src/arvados/crunch-run.js';
import { type Ec2DriverOptions, Ec2InstanceSet, parseEc2Params } from '../../../drivers/ec2/index.js';
import { FakeEC2, type FakeEC2Options } from '../../fixtures/ec2/server.js';
import { DISPATCH_KEY, instanceType, makeCluster } from '../lame/helpers.js';

export { DISPATCH_KEY };

export const M5 = instanceType('m5large', 'm5.large');
export const C5 = instanceType('c5xlarge', 'c5.xlarge');
export const SPOT: InstanceType = { ...instanceType('m5large.preemptible', 'm5.large'), Preemptible: true, Price: 0.05 };
export const SCRATCH: InstanceType = { ...instanceType('r5scratch', 'r5.large'), AddedScratch: 50 * 2 ** 30 + 1, Scratch: 60 * 2 ** 30 };

export function ec2Cluster(types: InstanceType[] = [M5, C5, SPOT, SCRATCH]): Cluster {
  const cluster = makeCluster();
  cluster.InstanceTypes = Object.fromEntries(types.map((t) => [t.Name, t]));
  cluster.Containers.CloudVMs.Driver = 'ec2';
  return cluster;
}

export async function startFake(opts: FakeEC2Options = {}): Promise<FakeEC2> {
  const fake = new FakeEC2(opts);
  await fake.start();
  return fake;
}

/** DriverParameters pointing at `fake`, with test credentials. */
export function fakeParams(fake: FakeEC2, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    AccessKeyID: 'AKIDTESTTESTTEST',
    SecretAccessKey: 'secret-test-key-0123456789',
    Region: 'us-east-1',
    Endpoint: fake.url,
    SecurityGroupIDs: { 'sg-0001': {} },
    SubnetID: 'subnet-a',
    ...extra,
  };
}

export interface DriverHarness {
  driver: Ec2InstanceSet;
  ctx: DriverContext;
  logs: LineCollector;
}

export function makeDriver(
  fake: FakeEC2,
  opts: { params?: Record<string, unknown>; options?: Ec2DriverOptions; clock?: Clock; cluster?: Cluster; logger?: Logger; registry?: Registry } = {},
): DriverHarness {
  const logs = new LineCollector();
  const ctx: DriverContext = {
    instanceSetId: `ec2-test-${randomBytes(4).toString('hex')}`,
    cluster: opts.cluster ?? ec2Cluster(),
    logger: opts.logger ?? createLogger({ stream: logs, level: 'debug' }),
    clock: opts.clock ?? systemClock,
    ...(opts.registry ? { registry: opts.registry } : {}),
  };
  const { params } = parseEc2Params(opts.params ?? fakeParams(fake));
  // Short retry waits keep the tests fast; the count is the production one.
  const driver = new Ec2InstanceSet(params, ctx, { retryDelayMs: 5, ...opts.options });
  return { driver, ctx, logs };
}

export { silentLogger };

/** Tags and init command as the pool gives them to create. */
export function createArgs(instanceSetId: string, typeName = 'm5large'): { tags: InstanceTags; init: string } {
  const secret = randomBytes(20).toString('hex');
  return {
    tags: {
      ArvadosInstanceSetID: instanceSetId,
      ArvadosInstanceType: typeName,
      ArvadosIdleBehavior: 'run',
      ArvadosInstanceSecret: secret,
    },
    init: initCommandForSecret(secret),
  };
}
