/**
 * The invariants of a chaos run, checked as it goes and at its end:
 *
 * - no double run: whenever a crunch-run starts, no other VM has a live
 *   crunch-run for the same container; no container goes Running twice in
 *   the controller's history;
 * - limits: at each create, the cloud's live VMs stay within MaxInstances
 *   and the cloud's quota;
 * - no result destroyed: no container goes from Complete to Cancelled (the
 *   controller lets an admin's token do it, and the dispatcher's is one);
 * - nothing lost: every container ends Complete, or Cancelled with a reason
 *   (runtime_status.error, the controller's record, or the dispatcher's log
 *   line for its own cancel); a child is left unsubmitted only when its
 *   workflow runner never ran or was cancelled;
 * - nothing leaked: the run finishes (every container final) with no VM
 *   left, and once the dispatcher has stopped no clock timer is left armed.
 *
 * Violations are collected with what explains them (times, VMs, history), so
 * a failing run says what went wrong without a rerun.
 */
import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import type { LameCloud } from '../../drivers/lame/index.js';
import type { TestController } from '../testcontroller/index.js';
import type { CloudLedger } from './cloud.js';
import type { SimResult } from './result.js';
import type { WorkloadPlayer } from './player.js';
import { BUG_CLASSES } from '../log.js';

/** At most this many examples of one kind of violation are kept. */
const MAX_EXAMPLES = 20;

/**
 * Error records that mean a defect, not a fault of the cloud or the
 * controller: a loop caught an exception, or the scheduler saw what should
 * not happen (the reference's "BUG" lines).
 */
const LOOP_FAILURES = new Set([
  'scheduling pass failed',
  'scheduler loop failed',
  'queue subscriber threw',
  'error while stopping',
  'BUG: unexpected state',
  '(BUG?) container disappeared from queue after Lock succeeded',
]);

/** A logged error that is a programming error: its text starts with the class (src/log.ts errorText). */
const BUG_ERROR = new RegExp(`^(${[...BUG_CLASSES].join('|')}): `);

/**
 * A log stream for the dispatcher that keeps only what the checks need: the
 * reason of each container the dispatcher cancelled, a count of error
 * records by message (most are the faults injected: a failed create), and
 * those among them that mean a defect (an exception caught by a loop, a
 * TypeError...).
 */
export class LogFacts extends Writable {
  readonly cancelReasons = new Map<string, string>();
  readonly errors = new Map<string, number>();
  readonly defects = new Map<string, number>();
  /** Containers whose crunch-run crashed or gave up on its own (the lame cloud's log). */
  readonly crunchRunDied = new Set<string>();
  /** Cancels the dispatcher decided but did not send, the container having ended since its last poll, by the state it had. */
  readonly cancelsNotSent = new Map<string, number>();

  /** @param tee where every line also goes (a file for a human chasing a failure) */
  constructor(private readonly tee?: Writable) {
    super();
  }

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.tee?.write(chunk);
    for (const line of chunk.toString('utf8').split('\n')) {
      const cancel = line.includes('"cancelled container"');
      const died = line.includes('"lame: crunch-run crashed"') || line.includes('"lame: crunch-run exiting after an error"');
      const notSent = line.includes('"not cancelling container: it has ended"');
      if (!cancel && !died && !notSent && !line.includes('"level":"error"')) continue;
      try {
        const rec = JSON.parse(line) as { msg?: unknown; level?: unknown; ContainerUUID?: unknown; Reason?: unknown; State?: unknown; error?: unknown };
        if (notSent) this.cancelsNotSent.set(String(rec.State), (this.cancelsNotSent.get(String(rec.State)) ?? 0) + 1);
        if (rec.msg === 'cancelled container' && typeof rec.ContainerUUID === 'string' && typeof rec.Reason === 'string') {
          this.cancelReasons.set(rec.ContainerUUID, rec.Reason);
        }
        if (died && typeof rec.ContainerUUID === 'string') this.crunchRunDied.add(rec.ContainerUUID);
        if (rec.level !== 'error') continue;
        const msg = String(rec.msg);
        this.errors.set(msg, (this.errors.get(msg) ?? 0) + 1);
        const errorText = typeof rec.error === 'string' ? rec.error : '';
        if (LOOP_FAILURES.has(msg) || BUG_ERROR.test(errorText)) {
          const key = `${msg}: ${errorText}`;
          this.defects.set(key, (this.defects.get(key) ?? 0) + 1);
        }
      } catch {
        // Not one JSON record: nothing the checks need.
      }
    }
    cb();
  }
}

/**
 * The reasons sync gives when it cancels a Running container it gave up on
 * (`src/scheduler/sync.ts`): only a crunch-run that died, or a VM that went,
 * justifies them.
 */
export const GIVE_UP_REASON = /crunch-run exited|not running on any worker/;

/** Watches a run as it goes (see the file comment); `verdict` adds the end-of-run checks. */
export class ChaosWatcher {
  readonly problems: string[] = [];
  private readonly counts = new Map<string, number>();
  /** crunch-run starts (accepted `--detach`), and containers started more than once. */
  crunchRunStarts = 0;
  readonly startsByContainer = new Map<string, number>();
  maxLive = 0;
  maxLiveAt = 0;
  /**
   * Containers whose crunch-run went with its VM through no decision of the
   * dispatcher's own: the provider reclaimed the VM, or the dispatcher shut
   * it down as broken or never booted. The dispatcher may give up on these.
   */
  readonly lostWithVM = new Set<string>();
  /** Containers with a live crunch-run on a healthy VM the dispatcher destroyed. */
  readonly killedWithVM = new Set<string>();

  constructor(
    private readonly limits: { maxInstances: number; quota: number },
    private readonly clock: { now(): number },
  ) {}

  /** Hooks the checks into the world of one run (`SimOptions.setup`). */
  attach(cloud: LameCloud, ledger: CloudLedger, controller: TestController): void {
    cloud.onDetach(({ vm, uuid }) => {
      this.crunchRunStarts++;
      this.startsByContainer.set(uuid, (this.startsByContainer.get(uuid) ?? 0) + 1);
      const others = cloud
        .listVMs()
        .filter((o) => o !== vm && o.processes.get(uuid)?.alive)
        .map((o) => o.id);
      if (others.length > 0) this.problem('double run', `${uuid}: crunch-run started on ${vm.id} while alive on ${others.join(', ')} at ${this.at()}`);
    });
    cloud.onReclaim((vm) => {
      for (const uuid of vm.processes.keys()) this.lostWithVM.add(uuid);
    });
    ledger.onDestroy = (id) => {
      const vm = cloud.vm(id);
      if (!vm || vm.state === 'terminated') return;
      const healthy = vm.booted && !vm.reportsBroken;
      for (const uuid of vm.runningContainers()) (healthy ? this.killedWithVM : this.lostWithVM).add(uuid);
    };
    ledger.onCreated = (created) => {
      let live = 0;
      for (const vm of cloud.listVMs()) if (vm.state !== 'terminated') live++;
      if (live > this.maxLive) {
        this.maxLive = live;
        this.maxLiveAt = this.clock.now();
      }
      const limit = Math.min(this.limits.maxInstances, this.limits.quota > 0 ? this.limits.quota : Infinity);
      if (live > limit) {
        this.problem('limit', `${live} live VMs after creating ${created.id} at ${this.at()} (MaxInstances ${this.limits.maxInstances}, quota ${this.limits.quota})`);
      }
    };
    controller.onChange((next, prev) => {
      if (next.state === 'Running' && prev.state !== 'Running' && controller.history(next.uuid).filter((h) => h.state === 'Running').length > 1) {
        this.problem('running twice', `${next.uuid} went Running again at ${this.at()}: ${describe(controller, next.uuid)}`);
      }
      if (prev.state === 'Complete' && next.state === 'Cancelled') {
        this.problem('result destroyed', `${next.uuid} was cancelled after it completed, at ${this.at()}: ${describe(controller, next.uuid)}`);
      }
    });
  }

  /**
   * The end-of-run checks; returns every problem, those found during the run
   * first. `reasons` gets the count of each cancel reason.
   */
  verdict(result: SimResult, player: WorkloadPlayer, controller: TestController, logs: LogFacts, reasons: Map<string, number>): string[] {
    for (const t of player.tracked) {
      const o = t.outcome;
      if (o.state === undefined) {
        const parent = t.parent?.outcome;
        const excused = parent !== undefined && (parent.state === 'Cancelled' || parent.runningAt === undefined);
        if (!excused) this.problem('lost', `${o.id} was never submitted`);
        continue;
      }
      if (o.state === 'Complete') continue;
      if (o.state !== 'Cancelled') {
        this.problem('lost', `${o.id} (${o.uuid}) ended ${o.state}: ${describe(controller, o.uuid!)}`);
        continue;
      }
      const recorded = controller.get(o.uuid!);
      const err = recorded?.runtime_status?.error;
      const last = controller.history(o.uuid!).at(-1);
      const reason = typeof err === 'string' && err !== '' ? err : (last?.reason ?? logs.cancelReasons.get(o.uuid!));
      if (reason === undefined || reason === '') {
        this.problem('lost', `${o.id} (${o.uuid}) Cancelled without a reason: ${describe(controller, o.uuid!)}`);
        continue;
      }
      // The dispatcher may only give up on a Running container whose crunch-run died on its own or went with its VM.
      if (GIVE_UP_REASON.test(reason) && !logs.crunchRunDied.has(o.uuid!) && !this.lostWithVM.has(o.uuid!)) {
        const how = this.killedWithVM.has(o.uuid!) ? 'the dispatcher destroyed its healthy VM' : 'its crunch-run never died on its own';
        this.problem('gave up', `${o.id} (${o.uuid}) cancelled ("${reason}") though ${how}: ${describe(controller, o.uuid!)}`);
      }
      const key = reason.replace(/zzzzz-[a-z0-9]{5}-[a-z0-9]{15}/g, 'UUID').replace(/lock_count=\d+/, 'lock_count=N');
      reasons.set(key, (reasons.get(key) ?? 0) + 1);
    }
    if (!result.finished) this.problem('leak', `the run did not finish: ${player.submitted} submitted, ${player.settled} settled, ${result.ledger.liveCount} VMs live at the limit`);
    else if (result.ledger.liveCount !== 0) this.problem('leak', `${result.ledger.liveCount} VMs left`);
    if (result.timersLeft > 0) this.problem('leak', `${result.timersLeft} clock timers still armed after the dispatcher stopped and the cloud went`);
    for (const [what, n] of logs.defects) this.problem('defect logged', `${n} x ${what}`);
    const out = [...this.problems];
    for (const [kind, n] of this.counts) if (n > MAX_EXAMPLES) out.push(`(${n - MAX_EXAMPLES} more "${kind}" problems not shown)`);
    return out;
  }

  private problem(kind: string, text: string): void {
    const n = (this.counts.get(kind) ?? 0) + 1;
    this.counts.set(kind, n);
    if (n <= MAX_EXAMPLES) this.problems.push(`${kind}: ${text}`);
  }

  private at(): string {
    return new Date(this.clock.now()).toISOString();
  }
}

/** A container's states, with who moved it and why, for a problem report. */
function describe(controller: TestController, uuid: string): string {
  const c = controller.get(uuid);
  const history = controller.history(uuid).map((h) => `${h.state}@${new Date(h.at).toISOString().slice(11, 19)}${h.reason ? ` (${h.reason})` : ''}`);
  return JSON.stringify({ state: c?.state, lock_count: c?.lock_count, error: c?.runtime_status?.error, history });
}

/**
 * A digest of everything simulated in a run (no host figures): each
 * container's fate and times, each VM's life, the cloud calls and the
 * controller's requests. The same seed must give the same digest.
 */
export function runDigest(result: SimResult, extra: unknown): string {
  const h = createHash('sha256');
  for (const c of result.containers) {
    h.update(JSON.stringify([c.id, c.uuid, c.state, c.submittedAt, c.runningAt, c.finalAt, c.exitCode, c.vm, c.reason]));
  }
  for (const v of result.ledger.vms.values()) h.update(JSON.stringify([v.id, v.type, v.createdAt, v.destroyedAt]));
  h.update(JSON.stringify([result.ledger.calls, result.controllerRequests, result.endedAt, result.restarts, result.timersFired, extra]));
  return h.digest('hex').slice(0, 16);
}
