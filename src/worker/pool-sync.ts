/**
 * Syncing with the cloud list: new instances become workers, vanished ones
 * are dropped (their crunch-run records with them), and an instance we
 * destroyed that is still listed TimeoutShutdown later is destroyed again.
 *
 * The cloud is listed at start and then SyncInterval after each listing
 * ends, as the reference does: never because of a create or a destroy. A
 * create's answer already makes its worker. A destroyed instance keeps
 * counting (against MaxInstances and the provider's quota) until a listing
 * drops it, as in the reference: a VM being deleted still holds its quota
 * (GCE shows it STOPPING for a while), and a create sent before it is gone
 * would only earn a quota error and a minute's hold. Listing after each
 * create or destroy would spend the provider's API rate on calls that tell
 * nothing new.
 */
import type { Instance } from '../cloud/types.js';
import type { Timer } from '../clock/index.js';
import type { PoolCore } from './pool-core.js';
import { TAG_INSTANCE_SET_ID } from './pool-config.js';

/** The sync loop: a listing now, then one SyncInterval after each listing ends. */
export class SyncLoop {
  private timer: Timer | undefined;
  private syncing: Promise<void> | undefined;
  private again = false;
  private running = false;

  constructor(private readonly core: PoolCore) {}

  /** Lists now and keeps listing every SyncInterval until `stop()`. */
  start(): Promise<void> {
    this.running = true;
    return this.syncNow();
  }

  /**
   * Lists the cloud now (coalesced: while a listing runs, one more follows
   * it), then waits SyncInterval from its end for the next. Resolves when
   * the listings asked for so far are done.
   */
  syncNow(): Promise<void> {
    if (this.core.stopped) return Promise.resolve();
    if (this.syncing) {
      this.again = true;
      return this.syncing;
    }
    this.timer?.cancel();
    this.timer = undefined;
    this.syncing = (async () => {
      try {
        do {
          this.again = false;
          // A failure here is a bug, not the cloud's (listAndSync logs
          // those); logged so that the loop, and the timer below, live on.
          await listAndSync(this.core).catch((err: unknown) => this.core.warnings.error('applying the cloud listing failed', { error: err }));
        } while (this.again && !this.core.stopped);
      } finally {
        this.syncing = undefined;
        if (this.running && !this.core.stopped) this.timer = this.core.clock.setTimer(this.core.cfg.syncInterval, () => void this.syncNow());
      }
    })();
    return this.syncing;
  }

  stop(): void {
    this.running = false;
    this.timer?.cancel();
    this.timer = undefined;
  }
}

/** Lists the cloud and applies the result. Resolves false (after logging) when the listing failed. */
export async function listAndSync(core: PoolCore): Promise<boolean> {
  // Anything that touches a worker after this point (a create returning, a
  // probe succeeding) is newer than the listing, so it must not be undone
  // by the listing's absence of that instance.
  const threshold = core.nextSeq();
  let instances: Instance[];
  // The reference's debug lines around a listing.
  core.log.debug('getting instance list');
  try {
    instances = await core.deps.instanceSet.instances({ [core.tagKey(TAG_INSTANCE_SET_ID)]: core.deps.instanceSetId });
  } catch (err) {
    core.warnings.warn('sync failed: cannot list cloud instances', { error: err }, 'sync failed');
    return false;
  }
  if (core.stopped) return false;
  core.log.debug('sync instances', { Instances: instances.length });
  applyInstanceList(core, threshold, instances);
  core.log.debug('sync done');
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
    if (inst.reclaimed === true) core.noticeReclaim(worker, 'the provider says it is reclaiming the instance');
    if (isNew) {
      changed = true;
    } else if (worker.state === 'shutdown' && now - worker.destroyed > core.cfg.timeoutShutdown) {
      worker.log.info('worker still listed after shutdown; retrying');
      worker.shutdown();
    }
  }
  for (const w of [...core.workers.values()]) {
    if (listed.has(w.id) || Math.max(w.seq, w.listedSeq) > threshold) continue;
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
