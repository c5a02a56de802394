/**
 * The driver conformance suite against the loopback driver. The host holds
 * one instance, so the cases that need two or more at once are skipped
 * (listing by tag, stable ids across a listing, destroy among several,
 * concurrent creates), and so are the faults it never produces (throttling,
 * capacity). Its quota error is its own: the quota fault creates the one
 * instance the host can hold, lets the next create fail against it, then
 * destroys it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import type { InstanceSet } from '../../../src/cloud/types.js';
import { LoopbackInstanceSet } from '../../../drivers/loopback/index.js';
import { type ConformanceSetup, describeDriverConformance } from '../../cloud/conformance.js';
import { DISPATCH_KEY, instanceType, makeContext } from '../lame/helpers.js';

describeDriverConformance('loopback', async (): Promise<ConformanceSetup> => {
  const dir = mkdtempSync(join(tmpdir(), 'loopback-conformance-'));
  const driver = new LoopbackInstanceSet(makeContext(), { username: userInfo().username, brokenFlagPath: join(dir, 'crunch-run-broken') });
  let quotaNext = false;
  const instanceSet: InstanceSet = {
    create: async (...args) => {
      if (!quotaNext) return driver.create(...args);
      quotaNext = false;
      const occupant = await driver.create(...args);
      try {
        return await driver.create(...args);
      } finally {
        await occupant.destroy();
      }
    },
    instances: (filter) => driver.instances(filter),
    stop: () => driver.stop(),
  };
  return {
    instanceSet,
    instanceTypes: [instanceType('localhost')],
    imageId: 'image-ignored',
    publicKey: DISPATCH_KEY.public,
    maxInstances: 1,
    faults: {
      nextCreateQuota: () => {
        quotaNext = true;
      },
    },
    cleanup: async () => {
      driver.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
});
