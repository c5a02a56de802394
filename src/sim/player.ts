/**
 * Plays a workload against the simulated controller: submits each container
 * at its time, plays the workflow runners (a runner's children are
 * submitted relative to its start, or to the end of the siblings they wait
 * for; it finishes once they are all final and its own runtime has passed; a
 * cancelled runner takes its children with it), and records each
 * container's outcome for the report.
 */
import { containerPriorityOf } from '../arvados/priority.js';
import type { Container } from '../arvados/types.js';
import type { ManualClock } from '../clock/manual.js';
import type { Cluster } from '../config/types.js';
import type { LameCloud } from '../../drivers/lame/index.js';
import { chooseInstanceTypes } from '../queue/instance-types.js';
import type { ControllerContainer, TestController } from '../testcontroller/index.js';
import type { ContainerOutcome } from './result.js';
import { idealStarts, type SimContainer } from './workload.js';
import { localityRecord } from './workload-locality.js';

/** A runner sleeps this long (s) unless the player finishes it: longer than any limit. */
const FOREVER_S = 10 * 365 * 24 * 3600;

/** The controller record for a workload container; `command` decides its run time and exit code on the lame VM. */
export function containerSeed(cluster: Cluster, c: SimContainer): Partial<ControllerContainer> {
  const runner = (c.children?.length ?? 0) > 0;
  const seconds = String(Math.max(0, Math.round(c.runtimeMs)) / 1000);
  const command = runner
    ? ['sleep', String(FOREVER_S)]
    : c.exitCode === 0
      ? ['sleep', seconds]
      : ['sh', '-c', `sleep ${seconds}; exit ${c.exitCode}`];
  // Sizes are whole bytes, as the controller stores them (it refuses a
  // request with a fractional ram); a workload's may come out fractional
  // (a number in the file, "1.3KiB", a draw), so they are rounded up here.
  const rc: Container['runtime_constraints'] = { vcpus: c.vcpus, ram: Math.ceil(c.ram) };
  if (c.gpus > 0) rc.gpu = gpuRequest(cluster, c);
  const locality = localityRecord(c);
  return {
    command,
    priority: c.priority,
    runtime_constraints: rc,
    scheduling_parameters: { preemptible: c.preemptible, ...(c.supervisor ? { supervisor: true } : {}) },
    ...locality,
    mounts: c.scratch > 0 ? { '/tmp': { kind: 'tmp', capacity: Math.ceil(c.scratch) }, ...locality.mounts } : locality.mounts,
  };
}

/**
 * A GPU request any configured GPU type of the stack can meet: the stack of
 * the cheapest GPU type (CUDA if none), driver version 0, and for CUDA the
 * lowest compute capability; ROCm wants exact targets, so every configured one.
 */
function gpuRequest(cluster: Cluster, c: SimContainer): NonNullable<Container['runtime_constraints']['gpu']> {
  const gpuTypes = Object.values(cluster.InstanceTypes)
    .filter((t) => t.GPU.DeviceCount > 0)
    .sort((a, b) => a.Price - b.Price);
  const stack = gpuTypes[0]?.GPU.Stack || 'cuda';
  const targets = stack === 'rocm' ? [...new Set(gpuTypes.filter((t) => t.GPU.Stack === 'rocm').map((t) => t.GPU.HardwareTarget))] : ['0'];
  return { stack, driver_version: '0', hardware_target: targets, device_count: c.gpus, vram: Math.ceil(c.gpuVRAM) };
}

/** Ideal run time: a runner lasts at least until its last child could have finished. */
function idealMs(c: SimContainer): number {
  let ms = c.runtimeMs;
  if (!c.children) return ms;
  const starts = idealStarts(c.children, idealMs);
  for (const ch of c.children) ms = Math.max(ms, starts.get(ch.id)! + idealMs(ch));
  return ms;
}

/** A container's owner: its own for a top-level container, its runner's for a child. */
function ownerOf(spec: SimContainer, parent?: Tracked): { owner?: string } {
  const owner = parent ? parent.outcome.owner : spec.owner;
  return owner === undefined ? {} : { owner };
}

interface Tracked {
  spec: SimContainer;
  outcome: ContainerOutcome;
  parent?: Tracked;
  /** Children not final yet (runners only), and whether the runner's own time is up. */
  openChildren: number;
  ownTimeUp: boolean;
  children: Tracked[];
  /** Siblings it waits for that are not final yet (`spec.after`), and whether one of them failed. */
  waitingFor: number;
  blocked: boolean;
  /** Siblings that wait for it. */
  dependents: Tracked[];
  finishing: boolean;
  /** Its container request's uuid, once submitted. */
  request?: string;
}

/** How the simulated controller states container priorities: '2.6' as the request's (0-1000), '2.7' as Arvados 2.7 and later. */
export type SimPriorities = '2.6' | '2.7';

export class WorkloadPlayer {
  /** Every workload container and child, in workload order. */
  readonly tracked: Tracked[] = [];
  submitted = 0;
  /** Containers final, or never to be submitted (children of a cancelled runner). */
  settled = 0;
  readonly stateCounts: Record<string, number> = { Queued: 0, Locked: 0, Running: 0, Complete: 0, Cancelled: 0 };
  private readonly byUuid = new Map<string, Tracked>();
  private readonly top: Tracked[];
  private readonly start: number;
  private nextArrival = 0;
  private unsubscribe: (() => void) | undefined;

  constructor(
    private readonly clock: ManualClock,
    private readonly controller: TestController,
    private readonly cluster: Cluster,
    private readonly cloud: LameCloud,
    containers: SimContainer[],
    /** Where to say what went wrong in the play itself. */
    private readonly notes: string[],
    /** The requests' container_count_max (`Workload.containerCountMax`). */
    private readonly containerCountMax = 1,
    /** How the controller states container priorities: as the request's (before Arvados 2.7), or as 2.7+ does (`containerPriorityOf`). */
    private readonly priorities: SimPriorities = '2.6',
  ) {
    this.start = clock.now();
    this.top = containers.map((c) => this.track(c));
  }

  /** Watches the controller and arms the arrivals (the workload is sorted by `at`). */
  play(): void {
    this.unsubscribe = this.controller.onChange((next, prev) => this.changed(next, prev));
    this.armArrival();
  }

  stop(): void {
    this.unsubscribe?.();
  }

  /** Every container has settled. */
  get done(): boolean {
    return this.settled >= this.tracked.length;
  }

  private track(spec: SimContainer, parent?: Tracked): Tracked {
    const t: Tracked = {
      spec,
      parent,
      outcome: {
        id: spec.id,
        idealMs: idealMs(spec),
        priority: spec.priority,
        ...ownerOf(spec, parent),
        ...(spec.preemptible ? { preemptible: true } : {}),
        ...(spec.stage === undefined ? {} : { stage: spec.stage }),
      },
      openChildren: 0,
      ownTimeUp: false,
      children: [],
      waitingFor: spec.after?.length ?? 0,
      blocked: false,
      dependents: [],
      finishing: false,
    };
    const probe = { uuid: '', state: 'Queued', created_at: '', container_image: '', ...containerSeed(this.cluster, spec) } as Container;
    try {
      const best = chooseInstanceTypes(this.cluster, probe)[0];
      t.outcome.lowerBoundPrice = best.Price;
      t.outcome.lowerBoundType = best.Name;
    } catch {
      // No type fits: the dispatcher will cancel it, and it adds nothing to the bound.
    }
    this.tracked.push(t);
    for (const ch of spec.children ?? []) t.children.push(this.track(ch, t));
    if (t.children.some((ch) => ch.spec.after)) {
      const byId = new Map(t.children.map((ch) => [ch.spec.id, ch]));
      for (const ch of t.children) for (const id of ch.spec.after ?? []) byId.get(id)?.dependents.push(ch);
    }
    return t;
  }

  private armArrival(): void {
    if (this.nextArrival >= this.top.length) return;
    const due = this.start + this.top[this.nextArrival].spec.at;
    this.clock.setTimer(Math.max(0, due - this.clock.now()), () => {
      while (this.nextArrival < this.top.length && this.start + this.top[this.nextArrival].spec.at <= this.clock.now()) {
        this.submit(this.top[this.nextArrival++]);
      }
      this.armArrival();
    });
  }

  /** Adds a container for `t` to the controller, and tracks it as `t`'s current one. */
  private addContainer(t: Tracked): ControllerContainer {
    const seed = containerSeed(this.cluster, t.spec);
    // 2.7+: from the request's priority and creation time (its first submission, now for that one), which a retry's container keeps.
    if (this.priorities === '2.7') seed.priority = containerPriorityOf(t.spec.priority, t.outcome.submittedAt ?? this.clock.now());
    const rec = this.controller.addContainer(seed);
    this.byUuid.set(rec.uuid, t);
    this.stateCounts[rec.state]++;
    t.outcome.uuid = rec.uuid;
    t.outcome.state = rec.state;
    return rec;
  }

  private submit(t: Tracked): void {
    const rec = this.addContainer(t);
    t.outcome.submittedAt = this.clock.now();
    // Its container request, for fair share: a child's is made by its runner, so the owner is found up the chain.
    t.request = this.controller.addContainerRequest({
      ...(t.outcome.owner === undefined ? {} : { owner_uuid: t.outcome.owner }),
      container_uuid: rec.uuid,
      requesting_container_uuid: t.parent?.outcome.uuid ?? null,
      priority: t.spec.priority,
    }).uuid;
    this.submitted++;
  }

  /** A runner finishes once its children are final and its own time is up. */
  private maybeFinish(t: Tracked): void {
    if (t.finishing || t.openChildren > 0 || !t.ownTimeUp || t.outcome.state !== 'Running') return;
    t.finishing = true;
    const uuid = t.outcome.uuid!;
    for (const vm of this.cloud.listVMs()) {
      const proc = vm.processes.get(uuid);
      if (proc?.alive) {
        proc.finishNow();
        return;
      }
    }
    this.notes.push(`runner ${t.spec.id} (${uuid}) could not be finished: its crunch-run was not found`);
  }

  private abandon(t: Tracked): void {
    this.settled++;
    for (const ch of t.children) this.abandon(ch);
  }

  /** A child of a running runner that will never be submitted: settled, and so are those that wait for it. */
  private skip(ch: Tracked): void {
    this.settleUnrun(ch);
    this.release(ch, false);
    this.maybeFinish(ch.parent!);
  }

  /** Counts a child of a running runner as settled without running: its runner waits for it no more. */
  private settleUnrun(ch: Tracked): void {
    this.abandon(ch);
    ch.parent!.openChildren--;
  }

  /**
   * `t`, a child, is final (`ok`: it completed with exit code 0) or will
   * never run: its dependents stop waiting for it. Those that now wait for
   * nothing are armed, or settled unrun if a sibling they waited for failed,
   * and so on down (a loop, not recursion: a chain may be long).
   */
  private release(t: Tracked, ok: boolean): void {
    const todo: Array<[Tracked, boolean]> = [[t, ok]];
    for (let next = todo.pop(); next; next = todo.pop()) {
      const [x, xOk] = next;
      for (const d of x.dependents) {
        if (!xOk) d.blocked = true;
        if (--d.waitingFor > 0) continue;
        if (!d.blocked) {
          this.arm(d);
          continue;
        }
        this.settleUnrun(d);
        todo.push([d, false]);
      }
    }
  }

  /** Submits a runner's child `spec.at` from now, if the runner still runs then. */
  private arm(ch: Tracked): void {
    const p = ch.parent!;
    this.clock.setTimer(ch.spec.at, () => {
      if (p.outcome.state === 'Running') this.submit(ch);
      else this.skip(ch);
    });
  }

  private onFinal(t: Tracked): void {
    this.settled++;
    const p = t.parent;
    if (p) {
      p.openChildren--;
      this.release(t, t.outcome.state === 'Complete' && t.outcome.exitCode === 0);
      this.maybeFinish(p);
    }
    if (t.children.length === 0) return;
    if (t.outcome.runningAt === undefined) {
      for (const ch of t.children) this.abandon(ch);
    } else if (t.outcome.state === 'Cancelled') {
      // The runner is gone: so are its children's requests. Unsubmitted ones are abandoned when their time comes.
      for (const ch of t.children) {
        if (ch.outcome.uuid !== undefined) this.controller.cancel(ch.outcome.uuid, `workflow runner ${t.outcome.uuid} was cancelled`);
      }
    }
  }

  /**
   * The controller's retry of a cancelled container, as Arvados does it
   * while the request wants more (container_count below
   * container_count_max): a new container of the same request. True when
   * it retried. Runners and their children are left alone (their play
   * would have to start over).
   */
  private retry(t: Tracked): boolean {
    const attempts = t.outcome.attempts ?? 1;
    if (attempts >= this.containerCountMax || t.children.length > 0 || t.parent || t.request === undefined) return false;
    const rec = this.addContainer(t);
    this.controller.retargetContainerRequest(t.request, rec.uuid);
    t.outcome.attempts = attempts + 1;
    return true;
  }

  private changed(next: ControllerContainer, prev: ControllerContainer): void {
    if (next.state === prev.state) return;
    const t = this.byUuid.get(next.uuid);
    if (!t) return;
    this.stateCounts[prev.state]--;
    this.stateCounts[next.state]++;
    t.outcome.state = next.state;
    const now = this.clock.now();
    if (next.state === 'Running') {
      t.outcome.runningAt ??= now;
      if (t.children.length > 0) {
        t.openChildren = t.children.length;
        // Those that wait for siblings are armed when the last of them ends.
        for (const ch of t.children) if (ch.waitingFor === 0) this.arm(ch);
        this.clock.setTimer(t.spec.runtimeMs, () => {
          t.ownTimeUp = true;
          this.maybeFinish(t);
        });
      }
    }
    if (next.state === 'Cancelled' && this.retry(t)) return;
    if (next.state === 'Complete' || next.state === 'Cancelled') {
      t.outcome.finalAt = now;
      t.outcome.exitCode = next.exit_code;
      if (next.state === 'Cancelled') {
        const err = next.runtime_status?.error;
        const last = this.controller.history(next.uuid).at(-1);
        // The dispatcher's own cancels set only the state, as the reference's (the reason is in its log).
        const byDispatcher = last?.by === this.controller.rootTokenUuid ? 'cancelled by the dispatcher (its log says why)' : undefined;
        t.outcome.reason = typeof err === 'string' && err !== '' ? err : (last?.reason ?? byDispatcher ?? 'no reason recorded');
      }
      this.onFinal(t);
    }
  }
}
