/**
 * The driver conformance suite against the ec2 driver, with the real AWS SDK
 * talking to the local fake EC2 endpoint. Faults are EC2 error codes queued
 * on the fake, so the driver's own classification is what is checked.
 */
import type { ConformanceSetup } from '../../cloud/conformance.js';
import { describeDriverConformance } from '../../cloud/conformance.js';
import { C5, DISPATCH_KEY, M5, makeDriver, startFake } from './helpers.js';

describeDriverConformance('ec2 (fake endpoint)', async (): Promise<ConformanceSetup> => {
  const fake = await startFake();
  const { driver } = makeDriver(fake);
  // The driver retries throttled creates itself (with one ClientToken), so
  // a throttle the caller sees is one that outlasted every attempt.
  const attempts = 3;
  return {
    instanceSet: driver,
    instanceTypes: [M5, C5],
    imageId: 'ami-0123456789abcdef0',
    publicKey: DISPATCH_KEY.public,
    faults: {
      nextCreateRateLimited: () => {
        for (let i = 0; i < attempts; i++) fake.failNext('RunInstances', 'RequestLimitExceeded', 'Request limit exceeded.');
      },
      nextCreateQuota: () => fake.failNext('RunInstances', 'InstanceLimitExceeded', 'You have requested more instances than your current instance limit allows.'),
      nextCreateCapacity: (providerType) =>
        fake.failNext('RunInstances', 'InsufficientInstanceCapacity', `We currently do not have sufficient ${providerType} capacity in the Availability Zone you requested.`),
    },
    cleanup: async () => {
      driver.stop();
      await fake.stop();
    },
  };
});
