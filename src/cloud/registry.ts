/**
 * Drivers by name, as `Containers.CloudVMs.Driver` names them. A driver is
 * registered as a loader so that a heavy SDK (Google's takes ~2 s to import)
 * is loaded only when that driver is configured.
 */
import { createHash } from 'node:crypto';
import type { Cluster } from '../config/types.js';
import type { Registry } from 'prom-client';
import type { Clock } from '../clock/index.js';
import type { Logger } from '../log.js';
import type { DriverFactory, InstanceSet } from './types.js';
import { type CloudThrottle, type WrapOptions, wrapInstanceSet } from './wrap.js';

export type DriverLoader = () => Promise<DriverFactory>;

const loaders = new Map<string, DriverLoader>();

/** Makes a driver available under `name`. Registering a name twice replaces the loader (tests do). */
export function registerDriver(name: string, loader: DriverLoader): void {
  loaders.set(name, loader);
}

/** Names of every registered driver, sorted. */
export function driverNames(): string[] {
  return [...loaders.keys()].sort();
}

export class UnknownDriverError extends Error {
  override name = 'UnknownDriverError';
}

/**
 * A driver refused its DriverParameters. Drivers name the parameter
 * (`DriverParameters.Region: ...`); this names it by its whole YAML path, as
 * every other config problem is named, with the driver's error as `cause`.
 */
export class DriverParametersError extends Error {
  override name = 'DriverParametersError';
}

/**
 * The InstanceSetID tag value, derived from the SystemRootToken as the
 * reference derives it, so our daemon adopts the VMs a reference dispatcher
 * left running (and vice versa): the token's uuid for a `v2/uuid/secret`
 * token, else the md5 hex of the token, which identifies it without revealing it.
 */
export function instanceSetIdFor(cluster: Cluster): string {
  const token = cluster.SystemRootToken;
  if (token.startsWith('v2/')) return token.split('/')[1] ?? '';
  return createHash('md5').update(token).digest('hex');
}

export interface NewInstanceSetOptions {
  cluster: Cluster;
  logger: Logger;
  clock: Clock;
  /** Defaults to `instanceSetIdFor(cluster)`. */
  instanceSetId?: string;
  observe?: WrapOptions['observe'];
  fence?: WrapOptions['fence'];
  /** Where the driver registers metrics of its own (`DriverContext.registry`). */
  registry?: Registry;
}

/**
 * Builds the configured driver and wraps it (rate limit, fail-fast after a
 * rate-limit error, ResourceTags, tag filtering, metrics hook). Throws
 * UnknownDriverError naming the config key and the known drivers, or
 * DriverParametersError (the driver's error as cause) for bad DriverParameters.
 */
export async function newInstanceSet(opts: NewInstanceSetOptions): Promise<InstanceSet & { readonly throttle: CloudThrottle }> {
  const vms = opts.cluster.Containers.CloudVMs;
  const loader = loaders.get(vms.Driver);
  if (!loader) {
    throw new UnknownDriverError(
      `Clusters.${opts.cluster.ClusterID}.Containers.CloudVMs.Driver: unknown driver "${vms.Driver}" (known: ${driverNames().join(', ')})`,
    );
  }
  const factory = await loader();
  const logger = opts.logger.child({ Driver: vms.Driver });
  let inner: InstanceSet;
  try {
    inner = await factory(vms.DriverParameters, {
      instanceSetId: opts.instanceSetId ?? instanceSetIdFor(opts.cluster),
      cluster: opts.cluster,
      logger,
      clock: opts.clock,
      ...(opts.registry ? { registry: opts.registry } : {}),
    });
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    if (/^DriverParameters[.:]/.test(message)) {
      throw new DriverParametersError(`Clusters.${opts.cluster.ClusterID}.Containers.CloudVMs.${message}`, { cause: err });
    }
    throw err;
  }
  return wrapInstanceSet(inner, {
    clock: opts.clock,
    logger,
    maxCloudOpsPerSecond: vms.MaxCloudOpsPerSecond,
    resourceTags: vms.ResourceTags,
    observe: opts.observe,
    fence: opts.fence,
  });
}
