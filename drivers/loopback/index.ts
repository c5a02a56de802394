/**
 * The loopback driver: runs containers on the dispatcher's own host, for
 * single-node installs and tests. Its one instance is this host, reached
 * over a real SSH server inside the dispatcher. README.md beside this file
 * says what it needs.
 */
import { readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { warnUnusedParams } from '../../src/cloud/params.js';
import type { DriverCheck, DriverContext, DriverFactory } from '../../src/cloud/types.js';
import { LoopbackInstanceSet } from './instance-set.js';

/** The name under `Containers.CloudVMs.Driver`. */
export const LOOPBACK_DRIVER_NAME = 'loopback';

/**
 * Builds the loopback instance set. It takes no DriverParameters (any given
 * are ignored, with a warning, as the reference ignores them). The dispatcher
 * must give instances its public key: the SSH server accepts no other.
 */
export const loopbackDriver: DriverFactory = (params, ctx) => {
  checkLoopback(params, ctx);
  if (noNewPrivileges()) {
    ctx.logger.error(
      'the loopback driver runs crunch-run on this host, and this process may gain no privileges (a sandbox such as systemd/sandbox.conf): containers will fail; remove the sandbox drop-in',
      { NoNewPrivs: 1 },
    );
  }
  return new LoopbackInstanceSet(ctx, { username: userInfo().username });
};

/** check-config's check: what `loopbackDriver` refuses and warns about in the config (not its sandbox check, which is about the daemon's process). */
export const loopbackCheck: DriverCheck = async (params, ctx) => {
  checkLoopback(params, ctx);
};

function checkLoopback(params: Record<string, unknown>, ctx: Pick<DriverContext, 'cluster' | 'logger'>): void {
  if (!ctx.cluster.Containers.CloudVMs.DeployPublicKey) {
    throw new Error(
      `Clusters.${ctx.cluster.ClusterID}.Containers.CloudVMs.DeployPublicKey: must be true with the loopback driver (its SSH server accepts only the dispatcher's key)`,
    );
  }
  warnUnusedParams(ctx.logger, 'the loopback driver takes no DriverParameters; ignoring them', params, Object.keys(params).sort(), [], 'DriverParameters');
}

/**
 * Whether this process runs with no_new_privs (systemd's NoNewPrivileges,
 * the first setting of the unit's sandbox drop-in): crunch-run, its child,
 * then cannot mount its FUSE filesystem or use sudo. False where
 * /proc/self/status cannot be read.
 */
export function noNewPrivileges(status: () => string = () => readFileSync('/proc/self/status', 'utf8')): boolean {
  try {
    return /^NoNewPrivs:\s*1\s*$/m.test(status());
  } catch {
    return false;
  }
}

export { BROKEN_FLAG_PATH, LoopbackInstance, LoopbackInstanceSet, type LoopbackOptions } from './instance-set.js';
export { hostCommand } from './shell.js';
