/**
 * The live state as a simulator input: what the suggester runs forward
 * (`suggester.ts`) to tell what a config change would do for one waiting
 * container.
 *
 * Approximations, all shared by the baseline run and every candidate run,
 * so that the comparison between them is fairer than each figure alone:
 * - Every container starts the simulation at once (arrival 0): the waiting
 *   ones ahead of the target in scheduling order and the target itself,
 *   each with its learnt typical runtime; the containers running now, with
 *   a priority above every waiting one and their expected REMAINING time
 *   as runtime, so the simulated cloud starts about as busy as the real one.
 * - Running containers are re-placed on fresh VMs, which boot in the learnt
 *   boot time like any other: the simulated cloud is busy a boot time
 *   longer than the real one. Idle and booting VMs of the real cloud are
 *   not carried over (the waiting containers need new VMs).
 * - One boot-time range for every type (the lame cloud has one): from the
 *   shortest low to the longest high of the learnt boot times of the
 *   types involved.
 * - Types at capacity now stay at capacity for the whole run; the lame
 *   cloud knows capacity by provider type, so a preemptible variant that
 *   shares a provider type with a type at capacity is taken as at capacity
 *   too. The cloud's own quota and every other fault are left out.
 * - Containers behind the target are left out: they come after it in
 *   scheduling order. At most MAX_AHEAD of those ahead are kept.
 */
import type { Container } from '../arvados/types.js';
import type { Cluster, InstanceType } from '../config/types.js';
import type { BootTimes } from '../estimate/boot.js';
import { runtimeKey } from '../estimate/estimator.js';
import { remaining, type RuntimeHistory } from '../estimate/history.js';
import type { SimContainer, Workload } from '../sim/workload.js';

/** Waiting containers ahead of the target kept in the simulation, at most. */
export const MAX_AHEAD = 1000;

/** The id the target container has in the simulated workload. */
export const TARGET_ID = 'target';

/** One waiting container: its record and the types it may use. */
export interface LiveWaiting {
  container: Container;
  instanceTypes: InstanceType[];
}

/** What the live workload is built from: the dispatcher's state as of now. */
export interface LiveInput {
  now: number;
  cluster: Cluster;
  /** The waiting containers before the target, in scheduling order. */
  ahead: LiveWaiting[];
  target: LiveWaiting;
  /** The containers running now: their record (undefined when the queue no longer has it) and when they started. */
  running: Array<{ uuid: string; container: Container | undefined; startedAt: number }>;
  runtimes: Pick<RuntimeHistory, 'estimate'>;
  boots: Pick<BootTimes, 'estimate'>;
  /** Provider types at capacity now. */
  atCapacity: string[];
}

/** The simulator's input: the workload and the cluster it runs on. */
export interface LiveWorkload {
  workload: Workload;
  cluster: Cluster;
}

/** Builds the simulator input for `input` (see the module comment for what it leaves out). */
export function liveWorkload(input: LiveInput): LiveWorkload {
  const ahead = input.ahead.slice(0, MAX_AHEAD);
  const waiting = [...ahead, input.target];
  // Priorities by rank, the running above them all: a current controller's are near 2^59, where
  // adding 1 changes nothing, and the simulated controller orders by them as the real one does.
  const ranks = new Map([...new Set(waiting.map((w) => w.container.priority))].sort((a, b) => a - b).map((p, i) => [p, i + 1]));
  const rankOf = (p: number): number => ranks.get(p)!;
  const topPriority = ranks.size + 1;
  const containers: SimContainer[] = [];
  input.running.forEach((r, i) => {
    const total = input.runtimes.estimate(runtimeKey(r.container) ?? { image: '', vcpus: 0, ram: 0 }, r.uuid);
    const left = remaining(total, Math.max(0, input.now - r.startedAt)).typical;
    // A record the queue dropped gives no size: the smallest, so it takes a VM and little else.
    const c = r.container ?? { runtime_constraints: { vcpus: 1, ram: 1 }, scheduling_parameters: {}, mounts: {} };
    containers.push(simContainer(`running-${i}`, c, topPriority, left));
  });
  ahead.forEach((w, i) => {
    containers.push(simContainer(`ahead-${i}`, w.container, rankOf(w.container.priority), typicalRuntime(input, w.container)));
  });
  containers.push(simContainer(TARGET_ID, input.target.container, rankOf(input.target.container.priority), typicalRuntime(input, input.target.container)));

  const types = new Set<string>();
  for (const w of waiting) for (const t of w.instanceTypes) types.add(t.Name);
  let low = Infinity;
  let high = 0;
  for (const name of types.size > 0 ? types : Object.keys(input.cluster.InstanceTypes)) {
    const s = input.boots.estimate(name);
    low = Math.min(low, s.low);
    high = Math.max(high, s.high);
  }
  if (!Number.isFinite(low)) low = high = 0;
  const vms = input.cluster.Containers.CloudVMs;
  const cluster: Cluster = {
    ...input.cluster,
    Containers: {
      ...input.cluster.Containers,
      CloudVMs: {
        ...vms,
        Driver: 'lame',
        DriverParameters: { MinBootTime: Math.round(low), MaxBootTime: Math.round(Math.max(low, high)), CapacityErrorTypes: [...input.atCapacity] },
      },
    },
  };
  return { workload: { name: 'live', seed: 1, containers }, cluster };
}

function typicalRuntime(input: LiveInput, c: Container): number {
  return input.runtimes.estimate(runtimeKey(c)!, c.uuid).typical;
}

type Shape = Pick<Container, 'runtime_constraints' | 'scheduling_parameters' | 'mounts'>;

function simContainer(id: string, c: Shape, priority: number, runtimeMs: number): SimContainer {
  const rc = c.runtime_constraints;
  let scratch = 0;
  for (const m of Object.values(c.mounts ?? {})) if (m.kind === 'tmp') scratch += m.capacity ?? 0;
  return {
    id,
    at: 0,
    vcpus: rc.vcpus,
    ram: rc.ram,
    scratch,
    gpus: rc.gpu?.device_count ?? 0,
    gpuVRAM: rc.gpu?.vram ?? 0,
    priority,
    preemptible: c.scheduling_parameters.preemptible === true,
    // A supervisor's children are not known: it runs as a plain container.
    supervisor: c.scheduling_parameters.supervisor === true,
    runtimeMs: Math.max(1000, Math.round(runtimeMs)),
    exitCode: 0,
  };
}
