/**
 * The process-wide registry of lame clouds, keyed by cloud name (default:
 * the InstanceSetID): a dispatcher stopped and started again inside the same
 * process (tests, the demo, the simulator) finds its cloud, and so its VMs,
 * still there, as it would in a real cloud.
 */
import type { DriverContext } from '../../src/cloud/types.js';
import { LameCloud } from './cloud.js';
import { type LameParams, LameParamsError } from './params.js';

const clouds = new Map<string, LameCloud>();

/**
 * The cloud named by `params.CloudName` (default: the InstanceSetID),
 * created on first use. A later call for the same name keeps the VMs, tags
 * and RNG state and adopts the new parameters and context, as a restarted
 * dispatcher with the same config would see; a different Transport is
 * refused.
 */
export function lameCloudFor(params: LameParams, ctx: DriverContext): LameCloud {
  const name = params.CloudName ?? ctx.instanceSetId;
  const existing = clouds.get(name);
  if (!existing) {
    const cloud = new LameCloud(name, params, ctx);
    clouds.set(name, cloud);
    return cloud;
  }
  if (existing.params.Transport !== params.Transport) {
    throw new LameParamsError(
      `DriverParameters.Transport: lame cloud ${JSON.stringify(name)} already exists with Transport ${existing.params.Transport}`,
    );
  }
  existing.params = params;
  existing.ctx = ctx;
  return existing;
}

/** The cloud of that name, if any instance set has used it. */
export function getLameCloud(name: string): LameCloud | undefined {
  return clouds.get(name);
}

/** Every lame cloud in this process. */
export function lameClouds(): LameCloud[] {
  return [...clouds.values()];
}

/** Closes every VM of the named cloud and forgets it (a simulation run that is over). */
export async function dropLameCloud(name: string): Promise<void> {
  const cloud = clouds.get(name);
  if (!cloud) return;
  clouds.delete(name);
  await cloud.shutdown();
}

/** Closes every VM of every lame cloud and forgets them all: for test cleanup. */
export async function resetLameClouds(): Promise<void> {
  const all = [...clouds.values()];
  clouds.clear();
  await Promise.all(all.map((c) => c.shutdown()));
}
