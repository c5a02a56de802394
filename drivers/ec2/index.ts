/**
 * The ec2 cloud driver (`Containers.CloudVMs.Driver: ec2`), built on
 * `@aws-sdk/client-ec2`. README.md beside this file lists its parameters
 * and what it does differently from the reference driver.
 */
import './sdk-env.js';
import type { DriverFactory } from '../../src/cloud/types.js';
import { Ec2InstanceSet } from './driver.js';
import { parseEc2Params } from './params.js';
import { resolveRegion } from './region.js';

/** The name under `Containers.CloudVMs.Driver`. */
export const EC2_DRIVER_NAME = 'ec2';

/**
 * Builds an ec2 instance set from DriverParameters (validated; errors name
 * the parameter). Unknown parameter names are logged once as a warning. An
 * empty Region is left to the AWS SDK's default chain.
 */
export const ec2Driver: DriverFactory = async (raw, ctx) => {
  const { params, unknown } = parseEc2Params(raw);
  if (unknown.length > 0) {
    // Names only: an unknown parameter may be another driver's secret (Azure's ClientSecret).
    ctx.logger.warn('ignoring DriverParameters the ec2 driver does not use', { Parameters: unknown });
  }
  return new Ec2InstanceSet({ ...params, Region: await resolveRegion(params.Region) }, ctx);
};

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
