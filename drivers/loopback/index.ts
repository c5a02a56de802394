/**
 * The loopback driver: runs containers on the dispatcher's own host, for
 * single-node installs and tests. Its one instance is this host, reached
 * over a real SSH server inside the dispatcher. README.md beside this file
 * says what it needs.
 */
import { userInfo } from 'node:os';
import type { DriverFactory } from '../../src/cloud/types.js';
import { LoopbackInstanceSet } from './instance-set.js';

/** The name under `Containers.CloudVMs.Driver`. */
export const LOOPBACK_DRIVER_NAME = 'loopback';

/**
 * Builds the loopback instance set. It takes no DriverParameters (any given
 * are ignored, with a warning, as the reference ignores them). The dispatcher
 * must give instances its public key: the SSH server accepts no other.
 */
export const loopbackDriver: DriverFactory = (params, ctx) => {
  const vms = ctx.cluster.Containers.CloudVMs;
  if (!vms.DeployPublicKey) {
    throw new Error(
      `Clusters.${ctx.cluster.ClusterID}.Containers.CloudVMs.DeployPublicKey: must be true with the loopback driver (its SSH server accepts only the dispatcher's key)`,
    );
  }
  const ignored = Object.keys(params);
  if (ignored.length > 0) ctx.logger.warn('the loopback driver takes no DriverParameters; ignoring them', { DriverParameters: ignored });
  return new LoopbackInstanceSet(ctx, { username: userInfo().username });
};

export { BROKEN_FLAG_PATH, LoopbackInstance, LoopbackInstanceSet, type LoopbackOptions } from './instance-set.js';
export { hostCommand } from './shell.js';
