/**
 * The ec2 cloud driver (`Containers.CloudVMs.Driver: ec2`), built on
 * `@aws-sdk/client-ec2`. README.md beside this file lists its parameters
 * and what it does differently from the reference driver.
 */
import './sdk-env.js';
import { warnUnusedParams } from '../../src/cloud/params.js';
import type { DriverCheck, DriverContext, DriverFactory } from '../../src/cloud/types.js';
import { Ec2InstanceSet } from './driver.js';
import { EC2_PARAM_NAMES, type Ec2Params, Ec2ParamsError, parseEc2Params } from './params.js';
import { resolveRegion } from './region.js';

/** The name under `Containers.CloudVMs.Driver`. */
export const EC2_DRIVER_NAME = 'ec2';

/**
 * Builds an ec2 instance set from DriverParameters (validated; errors name
 * the parameter). Unknown parameter names are logged once as a warning. An
 * empty Region is left to the AWS SDK's default chain.
 */
export const ec2Driver: DriverFactory = async (raw, ctx) => new Ec2InstanceSet(await ec2Params(raw, ctx), ctx);

/**
 * check-config's check: the parameters as `ec2Driver` reads them. A region
 * nobody set is a warning here, not an error: where the daemon runs, the
 * instance metadata may supply one that the host checking the config lacks.
 */
export const ec2Check: DriverCheck = async (raw, ctx) => {
  const params = parsedEc2Params(raw, ctx);
  try {
    await resolveRegion(params.Region);
  } catch (err) {
    if (!(err instanceof Ec2ParamsError)) throw err;
    ctx.logger.warn(`${err.message.replace(/^DriverParameters\.Region: /, '')} (the daemon would refuse to start on this host)`, { Parameter: 'Region' });
  }
};

async function ec2Params(raw: Record<string, unknown>, ctx: Pick<DriverContext, 'logger'>): Promise<Ec2Params> {
  const params = parsedEc2Params(raw, ctx);
  return { ...params, Region: await resolveRegion(params.Region) };
}

function parsedEc2Params(raw: Record<string, unknown>, ctx: Pick<DriverContext, 'logger'>): Ec2Params {
  const { params, unknown } = parseEc2Params(raw);
  warnUnusedParams(ctx.logger, 'ignoring DriverParameters the ec2 driver does not use', raw, unknown, EC2_PARAM_NAMES);
  return params;
}

export { buildClient, type Ec2DriverOptions, Ec2InstanceSet, LIVE_STATES, SCRATCH_DEVICE } from './driver.js';
export {
  classify,
  errorCode,
  isCapacity,
  isQuota,
  isSubnetSpecific,
  isThrottle,
  isTransient,
  isTypeCapacity,
  QUOTA_CODES,
  QUOTA_GROUP_CAPACITY_CODES,
  quotaGroupFor,
  THROTTLE_CODES,
  ThrottleBackoff,
  TYPE_CAPACITY_CODES,
} from './errors.js';
export { Ec2Instance } from './instance.js';
export { KEY_NAME_PREFIX, keyFingerprints, KeyPairs, parsePublicKey, PublicKeyError } from './keypair.js';
export { DEFAULT_EC2_PARAMS, DEFAULT_QUOTA_GROUPS, type Ec2Params, Ec2ParamsError, parseEc2Params, type ParsedEc2Params } from './params.js';
export { Ec2Metrics } from './metrics.js';
export { resolveRegion } from './region.js';
export { normalizePriceHistory, SPOT_RETRY_AFTER_FAILURE_MS, type SpotInstanceRef, SpotPrices } from './spot.js';
