/**
 * The driver conformance suite against the lame driver, over both
 * transports. Faults come from the cloud's `failNextCreate` hook, with the
 * error classes a real driver would produce.
 */
import { CapacityError, QuotaError, RateLimitError } from '../../../src/cloud/errors.js';
import { systemClock } from '../../../src/clock/index.js';
import { lameDriver, LameInstanceSet, resetLameClouds } from '../../../drivers/lame/index.js';
import { type ConformanceSetup, describeDriverConformance } from '../../cloud/conformance.js';
import { DISPATCH_KEY, LARGE, makeContext, SMALL } from './helpers.js';

for (const transport of ['ssh', 'inprocess'] as const) {
  describeDriverConformance(`lame (${transport})`, async (): Promise<ConformanceSetup> => {
    const ctx = makeContext();
    const instanceSet = await lameDriver({ Transport: transport, MinBootTime: 0, MaxBootTime: 0 }, ctx);
    const cloud = (instanceSet as LameInstanceSet).cloud;
    return {
      instanceSet,
      instanceTypes: [SMALL, LARGE],
      imageId: 'lame-image',
      publicKey: DISPATCH_KEY.public,
      faults: {
        nextCreateRateLimited: () => cloud.failNextCreate(new RateLimitError('lame: slow down', systemClock.now() + 60_000)),
        nextCreateQuota: () => cloud.failNextCreate(new QuotaError('lame: quota exceeded')),
        nextCreateCapacity: (providerType) =>
          cloud.failNextCreate(new CapacityError(`lame: no capacity for ${providerType}`, { instanceType: providerType })),
      },
      cleanup: async () => {
        instanceSet.stop();
        await resetLameClouds();
      },
    };
  });
}
