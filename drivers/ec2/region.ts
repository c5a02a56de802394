/**
 * The region when `DriverParameters.Region` is empty. The reference leaves
 * it to the AWS SDK's default chain, and so do we: the JS SDK's own resolver
 * reads `AWS_REGION`, then the shared config file (`AWS_CONFIG_FILE`,
 * `AWS_PROFILE`), then the instance metadata service. The reference's Go SDK
 * also reads `AWS_DEFAULT_REGION`, which the JS SDK ignores, so that is
 * tried too. Resolved once, at start, so a region nobody set is a clear
 * error naming the parameter rather than a failure at the first API call.
 */
import './sdk-env.js';
import { EC2Client } from '@aws-sdk/client-ec2';
import { Ec2ParamsError } from './params.js';

export async function resolveRegion(configured: string): Promise<string> {
  if (configured !== '') return configured;
  const env = process.env;
  const fromGoEnv = env.AWS_DEFAULT_REGION?.trim();
  // AWS_REGION wins over AWS_DEFAULT_REGION, as in the Go SDK; both win over the shared config.
  if (!env.AWS_REGION?.trim() && fromGoEnv) return fromGoEnv;
  const probe = new EC2Client({});
  try {
    const region = (await probe.config.region()).trim();
    if (region !== '') return region;
  } catch {
    // "Region is missing": reported below, naming the parameter.
  } finally {
    probe.destroy();
  }
  throw new Ec2ParamsError(
    'DriverParameters.Region: not set, and the AWS SDK found no region either (AWS_REGION, AWS_DEFAULT_REGION, ' +
      'the shared config file, the instance metadata); set it, e.g. "us-east-1"',
  );
}
