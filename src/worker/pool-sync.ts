/**
 * Syncing with the cloud list: new instances become workers, vanished ones
 * are dropped (their crunch-run records with them), and an instance we
 * destroyed that is still listed TimeoutShutdown later is destroyed again.
 */
import type { Instance } from '../cloud/types.js';
import type { PoolCore } from './pool-core.js';
import { TAG_INSTANCE_SET_ID } from './pool-config.js';

/** Lists the cloud and applies the result. Resolves false (after logging) when the listing failed. */
export async function listAndSync(core: PoolCore): Promise<boolean> {
  // Anything that touches a worker after this point (a create returning, a
  // probe succeeding) is newer than the listing, so it must not be undone
  // by the listing's absence of that instance.
  const threshold = core.nextSeq();
  let instances: Instance[];
  try {
    instances = await core.deps.instanceSet.instances({ [core.tagKey(TAG_INSTANCE_SET_ID)]: core.deps.instanceSetId });
  } catch (err) {
    core.warnings.warn('sync failed: cannot list cloud instances', { error: err }, 'sync failed');
    return false;
  }
  if (core.stopped) return false;
  applyInstanceList(core, threshold, instances);
  return true;
}

/** Applies one cloud listing taken after `threshold` (a `nextSeq()` value). */
export function applyInstanceList(core: PoolCore, threshold: number, instances: readonly Instance[]): void {
  let changed = false;
  const listed = new Set<string>();
  const now = core.clock.now();
  for (const inst of instances) {
    if (listed.has(inst.id)) continue;
    listed.add(inst.id);
    const { worker, isNew } = core.addOrUpdateWorker(inst);
    if (isNew) {
      changed = true;
    } else if (worker.state === 'shutdown' && now - worker.destroyed > core.cfg.timeoutShutdown) {
      worker.log.info('worker still listed after shutdown; retrying');
      worker.shutdown();
    }
  }
  for (const w of [...core.workers.values()]) {
    if (listed.has(w.id) || w.seq > threshold) continue;
    core.removeWorker(w);
    changed = true;
  }
  core.limits.noteInstanceCount(core.instanceCount());
  if (!core.loaded) {
    core.loaded = true;
    core.log.info('loaded initial instance list', { N: core.workers.size });
    changed = true;
  }
  if (changed) core.notify();
}
