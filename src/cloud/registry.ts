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
import type { DriverCheck, DriverFactory, InstanceSet } from './types.js';
import { type CloudThrottle, type WrapOptions, wrapInstanceSet } from './wrap.js';

export type DriverLoader = () => Promise<DriverFactory>;
export type DriverCheckLoader = () => Promise<DriverCheck>;

const loaders = new Map<string, DriverLoader>();
const checkLoaders = new Map<string, DriverCheckLoader>();

/**
 * Makes a driver available under `name`, with the check of its parameters
 * check-config runs (none: only the driver's name is checked). Registering
 * a name twice replaces both (tests do).
 */
export function registerDriver(name: string, loader: DriverLoader, check?: DriverCheckLoader): void {
  loaders.set(name, loader);
  if (check) checkLoaders.set(name, check);
  else checkLoaders.delete(name);
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
  const factory = await loaderFor(opts.cluster, loaders)();
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
    throw namedByPath(opts.cluster, err);
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

/**
 * What `newInstanceSet` would refuse the config for, without building the
 * driver or calling the cloud: throws UnknownDriverError or
 * DriverParametersError as it would, and logs the driver's start-up
 * warnings to `logger`.
 */
export async function checkDriverConfig(cluster: Cluster, logger: Logger): Promise<void> {
  loaderFor(cluster, loaders); // an unknown driver throws here, as in newInstanceSet
  const check = checkLoaders.get(cluster.Containers.CloudVMs.Driver);
  if (!check) return;
  try {
    await (await check())(cluster.Containers.CloudVMs.DriverParameters, { cluster, logger });
  } catch (err) {
    throw namedByPath(cluster, err);
  }
}

/** The configured driver's entry in `map`, or UnknownDriverError naming the config key and the known drivers. */
function loaderFor<T>(cluster: Cluster, map: Map<string, T>): T {
  const name = cluster.Containers.CloudVMs.Driver;
  const loader = map.get(name);
  if (!loader) {
    throw new UnknownDriverError(`Clusters.${cluster.ClusterID}.Containers.CloudVMs.Driver: unknown driver ${JSON.stringify(name)} (known: ${driverNames().join(', ')})`);
  }
  return loader;
}

/** A driver's `DriverParameters.X: ...` error as a DriverParametersError naming its whole YAML path; others as they are. */
function namedByPath(cluster: Cluster, err: unknown): unknown {
  const message = err instanceof Error ? err.message : String(err);
  if (/^DriverParameters[.:]/.test(message)) {
    return new DriverParametersError(`Clusters.${cluster.ClusterID}.Containers.CloudVMs.${message}`, { cause: err });
  }
  return err;
}
