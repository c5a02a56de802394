/**
 * The cloud listings a `cloudtest` pass waits on around its own instance:
 * clearing out the instances of an earlier run (`--destroy-existing`), and
 * looking for one a failed create made all the same. Each lists the cloud
 * every poll interval until it is done or its deadline passes.
 */
import type { Instance, InstanceSet, InstanceTags } from '../cloud/types.js';
import type { Clock } from '../clock/index.js';
import type { Logger } from '../log.js';
import { formatSeconds } from './steps.js';

/** What the waits need of the pass. */
export interface ListingContext {
  instanceSet: InstanceSet;
  clock: Clock;
  logger: Logger;
  /** Between two listings. */
  pollMs: number;
  /** Aborting ends a wait at once. */
  signal?: AbortSignal;
}

/** Sleeps up to `ms`, not past `deadline`, failing at once if the run is aborted. */
export function pauseUntil(ctx: ListingContext, ms: number, deadline: number): Promise<void> {
  return ctx.clock.sleep(Math.max(0, Math.min(ms, deadline - ctx.clock.now())), ctx.signal);
}

/**
 * Destroys every instance `filter` lists and waits until none is listed;
 * returns how many there were. A destroy that fails (a throttled call, say)
 * is logged, as the reference logs it, and tried again at the next listing.
 */
export async function destroyAllListed(ctx: ListingContext, filter: InstanceTags, waitMs: number): Promise<number> {
  const deadline = ctx.clock.now() + waitMs;
  const seen = new Set<string>();
  const destroyed = new Set<string>();
  let lastError: unknown;
  for (;;) {
    const listed = await ctx.instanceSet.instances(filter);
    if (listed.length === 0) return seen.size;
    for (const i of listed) {
      if (destroyed.has(i.id)) continue;
      seen.add(i.id);
      ctx.logger.info('destroying existing instance with our InstanceSetID', { Instance: i.id });
      try {
        await i.destroy();
        destroyed.add(i.id);
      } catch (err) {
        lastError = err;
        ctx.logger.error('error destroying existing instance', { Instance: i.id, error: err });
      }
    }
    if (ctx.clock.now() >= deadline) {
      const why = lastError instanceof Error ? ` (last error: ${lastError.message})` : '';
      throw new Error(`still listed after ${formatSeconds(waitMs)}: ${listed.map((i) => i.id).join(', ')}${why}`);
    }
    await pauseUntil(ctx, ctx.pollMs, deadline);
  }
}

/**
 * The first instance `filter` lists that `mine` accepts, looked for at each
 * listing until `deadline`; undefined if none showed by then. A listing that
 * was still failing at the deadline throws its error: it has not shown that
 * there is none.
 */
export async function awaitListed(ctx: ListingContext, filter: InstanceTags, mine: (i: Instance) => boolean, deadline: number): Promise<Instance | undefined> {
  let lastError: unknown;
  for (;;) {
    try {
      const found = (await ctx.instanceSet.instances(filter)).find(mine);
      if (found) return found;
      lastError = undefined;
    } catch (err) {
      lastError = err;
    }
    if (ctx.clock.now() >= deadline) {
      if (lastError !== undefined) throw lastError;
      return undefined;
    }
    await pauseUntil(ctx, ctx.pollMs, deadline);
  }
}
