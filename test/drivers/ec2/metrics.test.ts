/**
 * The ec2 driver's own metrics, as the reference's: names, types, labels,
 * help texts, when they change, and that a dispatcher hands the driver its
 * registry so they show at /metrics.
 */
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { createDispatcher } from '../../../src/dispatcher.js';
import { createLogger, LineCollector } from '../../../src/log.js';
import type { FakeEC2 } from '../../fixtures/ec2/server.js';
import { createArgs, DISPATCH_KEY, ec2Cluster, fakeParams, M5, makeDriver, startFake } from './helpers.js';

const IMAGE = 'ami-0123456789abcdef0';

/** The sample lines of `name` in the registry's text exposition, sorted. */
async function samples(registry: Registry, name: string): Promise<string[]> {
  const text = await registry.metrics();
  return text
    .split('\n')
    .filter((l) => l.startsWith(`${name}{`))
    .sort();
}

describe('ec2 driver: metrics', function () {
  this.timeout(20_000);
  let fake: FakeEC2;
  beforeEach(async () => {
    fake = await startFake();
  });
  afterEach(async () => {
    await fake.stop();
  });

  it('has the reference\'s names, types, labels and help texts', async () => {
    const registry = new Registry();
    const { driver } = makeDriver(fake, { registry });
    const json = await registry.getMetricsAsJSON();
    const byName = Object.fromEntries(json.map((m) => [m.name, m]));
    assert.equal(byName.arvados_dispatchcloud_ec2_instances?.type, 'gauge');
    assert.equal(byName.arvados_dispatchcloud_ec2_instances?.help, 'Number of instances running');
    assert.equal(byName.arvados_dispatchcloud_ec2_instance_starts_total?.type, 'counter');
    assert.equal(byName.arvados_dispatchcloud_ec2_instance_starts_total?.help, 'Number of attempts to start a new instance');
    driver.stop();
  });

  it('counts ec2_instance_starts_total by subnet_id and success, every series there from the start', async () => {
    const registry = new Registry();
    const { driver, ctx } = makeDriver(fake, { registry, params: fakeParams(fake, { SubnetID: ['subnet-full', 'subnet-good'] }) });
    const starts = () => samples(registry, 'arvados_dispatchcloud_ec2_instance_starts_total');
    assert.deepEqual(await starts(), [
      'arvados_dispatchcloud_ec2_instance_starts_total{subnet_id="subnet-full",success="0"} 0',
      'arvados_dispatchcloud_ec2_instance_starts_total{subnet_id="subnet-full",success="1"} 0',
      'arvados_dispatchcloud_ec2_instance_starts_total{subnet_id="subnet-good",success="0"} 0',
      'arvados_dispatchcloud_ec2_instance_starts_total{subnet_id="subnet-good",success="1"} 0',
    ]);
    fake.failSubnet('subnet-full', 'InsufficientFreeAddressesInSubnet');
    const { tags, init } = createArgs(ctx.instanceSetId);
    await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    assert.deepEqual(await starts(), [
      'arvados_dispatchcloud_ec2_instance_starts_total{subnet_id="subnet-full",success="0"} 1',
      'arvados_dispatchcloud_ec2_instance_starts_total{subnet_id="subnet-full",success="1"} 0',
      'arvados_dispatchcloud_ec2_instance_starts_total{subnet_id="subnet-good",success="0"} 0',
      'arvados_dispatchcloud_ec2_instance_starts_total{subnet_id="subnet-good",success="1"} 2',
    ]);
    driver.stop();
  });

  it('labels starts without a configured subnet subnet_id=""', async () => {
    const registry = new Registry();
    const { driver, ctx } = makeDriver(fake, { registry, params: fakeParams(fake, { SubnetID: '' }) });
    fake.failNext('RunInstances', 'InvalidAMIID.NotFound');
    const { tags, init } = createArgs(ctx.instanceSetId);
    await assert.rejects(driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public));
    await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    assert.deepEqual(await samples(registry, 'arvados_dispatchcloud_ec2_instance_starts_total'), [
      'arvados_dispatchcloud_ec2_instance_starts_total{subnet_id="",success="0"} 1',
      'arvados_dispatchcloud_ec2_instance_starts_total{subnet_id="",success="1"} 1',
    ]);
    driver.stop();
  });

  it('counts ec2_instances by subnet_id at each listing', async () => {
    const registry = new Registry();
    const { driver, ctx } = makeDriver(fake, { registry, params: fakeParams(fake, { SubnetID: ['subnet-a', 'subnet-b'] }) });
    const gauge = () => samples(registry, 'arvados_dispatchcloud_ec2_instances');
    const { tags, init } = createArgs(ctx.instanceSetId);
    const a1 = await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    fake.failSubnet('subnet-a', 'InsufficientFreeAddressesInSubnet');
    await driver.create(M5, IMAGE, tags, init, DISPATCH_KEY.public);
    assert.deepEqual(await gauge(), [], 'set by listings only');
    const list = () => driver.instances({ ArvadosInstanceSetID: ctx.instanceSetId });
    await list();
    assert.deepEqual(await gauge(), [
      'arvados_dispatchcloud_ec2_instances{subnet_id=""} 0',
      'arvados_dispatchcloud_ec2_instances{subnet_id="subnet-a"} 2',
      'arvados_dispatchcloud_ec2_instances{subnet_id="subnet-b"} 1',
    ]);
    await a1.destroy();
    await list();
    assert.deepEqual(await gauge(), [
      'arvados_dispatchcloud_ec2_instances{subnet_id=""} 0',
      'arvados_dispatchcloud_ec2_instances{subnet_id="subnet-a"} 1',
      'arvados_dispatchcloud_ec2_instances{subnet_id="subnet-b"} 1',
    ]);
    driver.stop();
  });

  it('shows on the dispatcher\'s registry: the dispatcher hands the driver its own', async () => {
    const cluster = ec2Cluster();
    cluster.Containers.CloudVMs.DriverParameters = fakeParams(fake, { SubnetID: 'subnet-a' });
    cluster.Containers.DispatchPrivateKey = DISPATCH_KEY.private;
    const d = await createDispatcher(cluster, { logger: createLogger({ stream: new LineCollector() }) });
    try {
      assert.deepEqual(await samples(d.metrics.registry, 'arvados_dispatchcloud_ec2_instance_starts_total'), [
        'arvados_dispatchcloud_ec2_instance_starts_total{subnet_id="subnet-a",success="0"} 0',
        'arvados_dispatchcloud_ec2_instance_starts_total{subnet_id="subnet-a",success="1"} 0',
      ]);
    } finally {
      await d.stop();
    }
  });
});
