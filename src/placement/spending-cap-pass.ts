/**
 * What the scheduling pass does with the spending cap's answers: a held
 * container's cause and timeline event, and the line (settings
 * `SpendingCap.HighPriorityFirst`): while a container waits for money under
 * the hard level, the VMs that run nothing are what keeps the money spent,
 * so the pass shuts down enough of them for its VM to fit, as it shuts down
 * unused VMs for the head of the line at the cloud quota. Running work is
 * never touched.
 */
import type { Logger } from '../log.js';
import type { WorkerPool } from '../scheduler/interfaces.js';
import { Cause, type PassView } from '../scheduler/pass-view.js';
import type { Slot } from '../scheduler/slots.js';
import type { SchedulerTimeline } from '../timeline/sink.js';
import { type CapHold, capDetail, type SpendingCap } from './spending-cap.js';

/** Container `k` (`uuid`) waits for the cap: its blocker says why, and its timeline on the first pass of the hold. */
export function sayHeld(view: PassView, k: number, uuid: string, hold: CapHold, cap: SpendingCap, timeline?: SchedulerTimeline): void {
  (view.capHolds ??= new Map()).set(k, hold);
  view.cause[k] = Cause.SpendingCap;
  if (cap.firstHeld(uuid)) timeline?.spendingCap?.(uuid, capDetail(hold));
}

/**
 * Shuts down VMs that run nothing and had nothing placed on them in this
 * pass, dearest first, until `need` $/h is freed, counting VMs already
 * shutting down as freed (they stop costing once gone; without that each
 * pass would shut down more while the first ones are destroyed).
 * @param keep VMs another feature keeps (locality's holds)
 * @returns how many it shut down
 */
export function freeMoneyForHeld(pool: Pick<WorkerPool, 'shutdown'>, logger: Logger, slots: readonly Slot[], need: number, keep?: ReadonlySet<string>): number {
  let freed = 0;
  const empty: Slot[] = [];
  for (const s of slots) {
    const v = s.view;
    if (v.workerState === 'shutdown') freed += v.price;
    else if (v.workerState === 'idle' && v.idleBehavior === 'run' && v.runningContainerUUIDs.length === 0 && !keep?.has(v.instance)) empty.push(s);
  }
  empty.sort((a, b) => b.view.price - a.view.price);
  let n = 0;
  for (const { view } of empty) {
    if (freed >= need) break;
    if (!pool.shutdown(view.instance)) continue;
    freed += view.price;
    n++;
    logger.info('shutting down instance with nothing to run: a higher-priority container waits for the spending cap', {
      Instance: view.instance,
      InstanceType: view.arvadosInstanceType,
    });
  }
  return n;
}
