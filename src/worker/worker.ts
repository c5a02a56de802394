/**
 * One cloud VM as the pool tracks it: its state (unknown, booting, idle,
 * running, shutdown), its idle behaviour (run, hold, drain), the crunch-run
 * processes on it, and the rules that shut it down. The probe that moves it
 * between states is in `worker-probe.ts`, the bookkeeping of its processes
 * in `worker-runs.ts`; `states.md` has the table.
 *
 * Everything here runs on the one event loop. Async work (probes, starts,
 * tag writes, destroys) records `seq` before it awaits and compares after,
 * so a result that raced with a newer change is dropped rather than applied
 * over it. A cloud listing is not such a change (see `seq`).
 */
import type { Container } from '../arvados/types.js';
import type { Instance, InstanceTags } from '../cloud/types.js';
import type { InstanceType } from '../config/types.js';
import { goNanoseconds, type Logger } from '../log.js';
import type { InstanceView } from '../scheduler/interfaces.js';
import type { IdleBehavior, WorkerState } from './states.js';
import type { Executor } from '../ssh/executor.js';
import { refusingAfterClose } from '../ssh/refusing.js';
import { TAG_IDLE_BEHAVIOR, TAG_INSTANCE_TYPE } from './pool-config.js';
import type { BootOutcome, WorkerEnv, WorkerInit } from './worker-env.js';
import type { RemoteRunner, RunnerHost } from './remote-runner.js';
import { endRun, reconcileRuns, startRun } from './worker-runs.js';
import { IdleStretcher, type StretchMark } from './idle-stretch.js';
import { sortFew } from '../compare.js';

export class Worker implements RunnerHost {
  readonly id: string;
  readonly type: InstanceType;
  readonly typeKnown: boolean;
  readonly executor: Executor;
  readonly log: Logger;
  state: WorkerState;
  idleBehavior: IdleBehavior;
  instance: Instance;
  /** Epoch ms it first appeared (create returned, or first listed). */
  readonly appeared: number;
  /** Last successful probe (starts at `appeared`): the boot and probe timeouts count from here. */
  probed: number;
  /** Last time it ran something (starts at `appeared`): the idle timeout counts from here. */
  busy: number;
  /**
   * When SSH first worked while booting: its first connection logged in
   * (before host key verification), or, if the executor cannot tell, the
   * first boot probe answer. 0 until then, and for adopted workers.
   */
  firstSSHAt = 0;
  /** When we last asked the cloud to destroy it; 0 if never. */
  destroyed = 0;
  /** Epoch ms the first destroy call succeeded; 0 if none has. */
  terminated = 0;
  /** The placeholder id its create call had, when this dispatcher created it (the cost ledger carries the create's time over). */
  pendingId?: string;
  /** When its billing started (its create call), when this dispatcher created it: where its paid periods begin. */
  billedFrom: number | undefined = undefined;
  /** Whether it is kept past TimeoutIdle to the end of its paid period, for its current idle spell (`idle-stretch.ts`). */
  kept: StretchMark | undefined = undefined;
  /**
   * Bumped by every change a probe's `--list` must not overwrite (a start, an
   * exit, a shutdown, a probe's own update). A listing does not bump it: the
   * instance's tags and address say nothing about its processes, and a
   * listing arriving while a probe ran would otherwise throw the probe away
   * (with a short SyncInterval and slow probes, every time).
   */
  seq: number;
  /** Bumped when a listing or a create's answer refreshed the instance; with `seq`, how new the worker is to a listing. */
  listedSeq = 0;
  lastUUID = '';
  /** Why it was created, when not for a container (`InstanceView.note`); lost at a restart, like the rest of this memory. */
  note: string | undefined;
  /** The provider's notice that it takes the VM back (`InstanceView.reclaimNotice`); set once. */
  reclaimNotice: string | undefined;
  readonly starting = new Map<string, RemoteRunner>();
  readonly running = new Map<string, RemoteRunner>();
  /** A probe is in flight (probes of one worker never overlap). */
  probing = false;
  /** A `--detach` failed: take no more containers until a probe has succeeded again. */
  startsBlocked = false;
  /** Since when `--list` has reported a stale run lock; 0 if it does not. */
  staleRunLockSince = 0;
  /**
   * A `--list` of it has been applied: what runs on it is known, even while
   * it stays `unknown` because its boot probe fails (an adopted VM whose
   * `systemctl is-system-running` says degraded).
   */
  listed = false;
  /** Its crunch-run refused `--list --stdin-prices` (a release before 3.2.1): list without the flag. */
  noPricesFlag = false;
  /** The pool dropped it (it left the cloud list, or the pool stopped). */
  removed = false;
  private bootOutcomeReported = false;
  private target: string;
  /** Tags as last listed, or as we last wrote them. */
  private tags: InstanceTags;

  constructor(
    private readonly env: WorkerEnv,
    init: WorkerInit,
  ) {
    this.instance = init.instance;
    this.id = init.instance.id;
    this.type = init.type;
    this.typeKnown = init.typeKnown;
    this.state = init.state;
    this.idleBehavior = init.idleBehavior;
    this.executor = refusingAfterClose(init.executor, () => this.removed, init.instance.id);
    this.log = init.log;
    this.target = init.instance.address;
    this.tags = { ...init.instance.tags };
    const now = env.clock.now();
    this.appeared = now;
    this.probed = now;
    this.busy = now;
    this.seq = env.nextSeq();
  }

  get remoteUser(): string {
    return this.instance.remoteUser;
  }

  /** A newer listing (or the create's answer) of the same instance. */
  updateInstance(instance: Instance): void {
    this.instance = instance;
    this.tags = { ...instance.tags };
    // The SSH executor drops its connection on setTarget, so only a real
    // change of address is passed on.
    if (instance.address !== this.target && instance.address !== '') {
      this.target = instance.address;
      this.executor.setTarget(instance.address);
    }
    this.listedSeq = this.env.nextSeq();
    this.saveTags().catch(() => undefined);
  }

  /** Containers started or running here. */
  containerCount(): number {
    return this.starting.size + this.running.size;
  }

  /** Writes the InstanceType and IdleBehavior tags if the cloud's copy differs. Rejects if the cloud refuses. */
  async saveTags(): Promise<void> {
    const prefix = this.env.cfg.tagKeyPrefix;
    const want: InstanceTags = { [prefix + TAG_IDLE_BEHAVIOR]: this.idleBehavior };
    // A stand-in type keeps whatever the instance was tagged with.
    if (this.typeKnown) want[prefix + TAG_INSTANCE_TYPE] = this.type.Name;
    if (Object.entries(want).every(([k, v]) => this.tags[k] === v)) return;
    const tags = { ...this.tags, ...want };
    this.tags = tags;
    try {
      await this.instance.setTags(tags);
    } catch (err) {
      // An instance we are destroying may already be gone from the cloud:
      // not worth a warning, since its tags no longer matter.
      if (this.state === 'shutdown') this.log.debug('error updating tags of an instance being shut down', { error: err });
      else this.env.warnings.warn('error updating tags', { Instance: this.id, error: err }, `setTags ${this.id}`);
      throw err;
    }
  }

  /** Changes the idle behaviour and its tag; a drained idle worker is shut down at once. Resolves when the tag is saved. */
  setIdleBehavior(behavior: IdleBehavior): Promise<void> {
    // Every request, changed or not, as the reference logs it.
    this.log.info('set idle behavior', { IdleBehavior: behavior });
    this.idleBehavior = behavior;
    const saved = this.saveTags();
    this.shutdownIfIdle();
    this.env.notify();
    return saved;
  }

  /** Runs `crunch-run --detach` for `ctr` in the background; the caller has checked that this worker may take it. */
  startContainer(ctr: Container): void {
    startRun(this, this.env, ctr);
  }

  /** Matches `running` to the UUIDs a `--list` printed (`worker-runs.ts`). True if anything changed. */
  updateRunning(uuids: readonly string[]): boolean {
    return reconcileRuns(this, this.env, uuids);
  }

  /** The process for `uuid` has exited: forget it and record the exit for the scheduler. */
  closeRunner(uuid: string): void {
    endRun(this, this.env, uuid);
  }

  onKilled(uuid: string): void {
    this.closeRunner(uuid);
    this.env.notify();
  }

  onUnkillable(uuid: string): void {
    if (this.idleBehavior === 'hold') {
      this.log.warn('unkillable container, but worker has IdleBehavior=Hold', { ContainerUUID: uuid });
      return;
    }
    this.log.warn('unkillable container, draining worker', { ContainerUUID: uuid });
    this.setIdleBehavior('drain').catch(() => undefined);
  }

  reportBootOutcome(outcome: BootOutcome): void {
    if (this.bootOutcomeReported) return;
    this.bootOutcomeReported = true;
    this.env.noteBootOutcome(outcome);
  }

  /**
   * Idle too long with behaviour run, drained with nothing (it can still
   * stop) running, or found in the cloud list and silent for TimeoutBooting
   * since. Never on hold.
   */
  eligibleForShutdown(): boolean {
    if (this.idleBehavior === 'hold') return false;
    const draining = this.idleBehavior === 'drain';
    switch (this.state) {
      case 'booting':
        return draining;
      case 'idle':
        if (draining) return true;
        if (this.env.clock.now() - this.busy < this.env.cfg.timeoutIdle || this.env.keepsWarm?.(this.id)) return false;
        return !this.env.stretchIdle?.(this);
      case 'running':
        // Draining, and every process left is one we gave up signalling.
        return draining && [...this.starting.values(), ...this.running.values()].every((rr) => rr.givenUp);
      case 'unknown':
        // Not created by this process (a previous one did) and never ready
        // since: as the reference, gone at the first probe round past
        // TimeoutBooting from when it appeared, as an aborted boot. Unlike
        // the reference, not while `--list` shows processes of ours there
        // (`states.md`).
        return this.containerCount() === 0 && this.env.clock.now() - this.appeared >= this.env.cfg.timeoutBooting;
      default:
        return false;
    }
  }

  shutdownIfIdle(): boolean {
    if (!this.eligibleForShutdown()) return false;
    this.log.info('shutdown worker', {
      State: this.state,
      IdleBehavior: this.idleBehavior,
      IdleDurationMs: this.env.clock.now() - this.busy,
      IdleDuration: goNanoseconds(this.env.clock.now() - this.busy),
    });
    this.reportBootOutcome('aborted');
    this.shutdown();
    return true;
  }

  /**
   * Probes have failed for `dur` ms since the last success: shut down past
   * TimeoutBooting (unknown, booting) or TimeoutProbe (otherwise). Never on hold.
   */
  shutdownIfBroken(dur: number): boolean {
    if (this.idleBehavior === 'hold') return false;
    const booting = this.state === 'unknown' || this.state === 'booting';
    const threshold = booting ? this.env.cfg.timeoutBooting : this.env.cfg.timeoutProbe;
    if (dur < threshold) return false;
    this.log.warn(`${booting ? 'new ' : ''}instance unresponsive, shutting down`, {
      State: this.state,
      DurationMs: dur,
      Duration: goNanoseconds(dur),
      Since: new Date(this.probed).toISOString(),
    });
    this.shutdown();
    return true;
  }

  /** Asks the cloud to destroy the instance (again, if it is still listed long after the first try). */
  shutdown(): void {
    const now = this.env.clock.now();
    this.seq = this.env.nextSeq();
    this.destroyed = now;
    this.state = 'shutdown';
    this.env.notify();
    this.instance.destroy().then(
      () => {
        // Providers stop billing once termination is under way; the cost ledger stops here too.
        if (this.terminated === 0) {
          this.terminated = this.env.clock.now();
          this.env.emit?.({ type: 'instanceDestroyed', instanceId: this.id });
        }
      },
      (err: unknown) => this.env.warnings.warn('shutdown failed', { Instance: this.id, error: err }, `destroy ${this.id}`),
    );
  }

  /** The instance left the cloud list, or the pool stops: abandon its processes (they are not ours to end) and close the executor. */
  close(reason: 'gone' | 'stop'): void {
    this.removed = true;
    for (const rr of [...this.starting.values(), ...this.running.values()]) {
      if (reason === 'gone') rr.log.info('crunch-run process abandoned');
      rr.close();
      this.env.indexRunner(rr.uuid, this, false);
    }
    this.executor.close();
  }

  /**
   * A new view object, the caller's to change. Built field by field, with
   * no spread: every scheduling pass takes one of each worker's, and at 10k
   * workers the spreads and iterator copies cost ~15 ms a pass.
   */
  view(): InstanceView {
    const kept = this.kept && IdleStretcher.note(this, this.env.clock.now());
    const uuids: string[] = [];
    if (this.starting.size > 0) for (const uuid of this.starting.keys()) uuids.push(uuid);
    if (this.running.size > 0) for (const uuid of this.running.keys()) uuids.push(uuid);
    if (uuids.length > 1) sortFew(uuids);
    const view: InstanceView = {
      instance: this.id,
      address: this.instance.address,
      price: this.type.Price,
      arvadosInstanceType: this.type.Name,
      providerInstanceType: this.instance.providerType || this.type.ProviderType,
      lastContainerUUID: this.lastUUID,
      lastBusy: this.busy,
      runningContainerUUIDs: uuids,
      workerState: this.state,
      idleBehavior: this.idleBehavior,
    };
    if (this.note !== undefined) view.note = this.note;
    if (kept) view.keptNote = kept;
    if (this.reclaimNotice !== undefined) view.reclaimNotice = this.reclaimNotice;
    return view;
  }
}
