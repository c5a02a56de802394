/**
 * The driver conformance suite against the gce driver, with the real
 * @google-cloud/compute client talking to the local Compute endpoint.
 * Faults are Google errors queued on the fake, so the driver's own
 * classification is what is checked.
 */
import type { ConformanceSetup } from '../../cloud/conformance.js';
import { describeDriverConformance } from '../../cloud/conformance.js';
import { DISPATCH_KEY, E2, IMAGE, makeDriver, N2, startFake, ZONES } from './helpers.js';

describeDriverConformance('gce (fake endpoint)', async (): Promise<ConformanceSetup> => {
  const fake = await startFake();
  const { driver } = await makeDriver(fake);
  return {
    instanceSet: driver,
    instanceTypes: [N2, E2],
    imageId: IMAGE,
    publicKey: DISPATCH_KEY.public,
    faults: {
      // 429 is not retried by the driver (the caller backs off), so one fault is enough.
      nextCreateRateLimited: () => fake.failNext('insert', { httpStatus: 429, reason: 'rateLimitExceeded' }),
      nextCreateQuota: () => fake.failNext('insert', { asyncError: 'QUOTA_EXCEEDED' }),
      // Every zone is out: the driver tries each before reporting capacity.
      nextCreateCapacity: () => {
        for (let i = 0; i < ZONES.length; i++) fake.failNext('insert', { asyncError: 'ZONE_RESOURCE_POOL_EXHAUSTED' });
      },
    },
    cleanup: async () => {
      driver.stop();
      await fake.stop();
    },
  };
});
