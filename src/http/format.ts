/**
 * The management API's JSON records, field for field as the reference
 * encodes them (Go's encoding/json over its structs), so that scripts and
 * tools written against the reference read ours unchanged.
 */
import { containerJSON, type ContainerJSON } from './container-json.js';
import type { GPUFeatures, InstanceType } from '../config/types.js';
import { type InstanceResources, type InstanceView, type QueueEntry, shownNote } from '../scheduler/interfaces.js';
import type { Blocker } from '../scheduler/blocker.js';
import { describeBlocker, estimateSentence } from '../scheduler/why-text.js';
import type { SpendingCapView } from '../placement/spending-cap.js';

/** The reference's `arvados.InstanceType` as JSON: its Go field names; `Name` and `Scratch` are `json:"-"` there. */
export interface InstanceTypeJSON {
  ProviderType: string;
  VCPUs: number;
  RAM: number;
  IncludedScratch: number;
  AddedScratch: number;
  Price: number;
  Preemptible: boolean;
  GPU: GPUFeatures;
}

/** The reference's `container.InstanceResources` (no JSON tags: Go field names). */
export interface InstanceResourcesJSON {
  VCPUs: number;
  RAM: number;
  Scratch: number;
  GPUs: number;
  GPUVRAM: number;
}

/** One item of GET /arvados/v1/dispatch/containers (the reference's `scheduler.QueueEnt`). */
export interface QueueEntJSON {
  /** Every key of the reference's container record (`container-json.ts`). */
  container: ContainerJSON;
  instance_resources: InstanceResourcesJSON;
  instance_types: InstanceTypeJSON[];
  first_seen_at: string;
  scheduling_status: string;
  /**
   * Ours, not the reference's: why it waits, structured (`src/scheduler/why.ts`).
   * Absent for containers that are not Queued or Locked.
   */
  blocker?: Blocker;
  /** Ours: when it should start (`src/estimate/`), RFC 3339: a typical time and a range. Absent when not waiting or not forecast yet. */
  estimate?: EstimateJSON;
  /** Ours: the config changes that would start it soonest, each with its simulated effect (`src/suggest/`). Absent when there are none. */
  suggestions?: Array<{ change: string; effect: string }>;
  /** Ours: dollars its runs have cost so far, its share of each VM it ran on (`src/cost/ledger.ts`). */
  cost?: number;
}

export interface EstimateJSON {
  start_low: string;
  start_typical: string;
  start_high: string;
  /** When the forecast was made. */
  as_of: string;
}

/** What the API adds to a queue item beyond the reference's fields. */
export interface QueueEntExtras {
  blocker?: Blocker;
  estimate?: { startLow: number; startTypical: number; startHigh: number; at: number };
  /** Append the estimate to scheduling_status as a sentence (the settings file's SchedulingStatus.AppendEstimate), as of this time. */
  appendEstimateAt?: number;
  suggestions?: Array<{ change: string; effect: string }>;
  /** Dollars the container's runs have cost so far; undefined: no `cost` field. */
  cost?: number | undefined;
}

/** One item of GET /arvados/v1/dispatch/instances (the reference's `worker.InstanceView`). */
export interface InstanceViewJSON {
  instance: string;
  address: string;
  price: number;
  arvados_instance_type: string;
  provider_instance_type: string;
  last_container_uuid: string;
  last_busy: string;
  /** null for a create in flight, as the reference (a nil Go slice there). */
  running_container_uuids: string[] | null;
  worker_state: string;
  idle_behavior: string;
  /** Why a warm pool or pre-warming created it (ours, not the reference's). */
  note?: string;
  /** Ours, only on an instance drain to save marks draining: since when and why. */
  draining?: { since: string; reason: string };
  /** Ours, only on a spot instance the provider gave notice of taking back: the notice. It gets no new containers. */
  reclaim_notice?: string;
  /** Ours: dollars it has cost so far, from its create call (`src/cost/ledger.ts`). */
  cost?: number;
}

/** Why an instance drains (`src/placement/drain.ts`): since when (epoch ms), and one sentence. */
export interface InstanceDraining {
  since: number;
  reason: string;
}

/**
 * Epoch ms as Go's time.Time encodes to JSON (RFC 3339 with only the
 * fraction digits needed), UTC; 0 is Go's zero time, as the reference shows
 * a time it never set.
 */
export function goTime(ms: number): string {
  if (!(ms > 0)) return '0001-01-01T00:00:00Z';
  return new Date(ms).toISOString().replace(/\.(\d*?)0*Z$/, (_m, frac: string) => (frac ? `.${frac}Z` : 'Z'));
}

export function instanceTypeJSON(it: InstanceType): InstanceTypeJSON {
  return {
    ProviderType: it.ProviderType,
    VCPUs: it.VCPUs,
    RAM: it.RAM,
    IncludedScratch: it.IncludedScratch,
    AddedScratch: it.AddedScratch,
    Price: it.Price,
    Preemptible: it.Preemptible,
    GPU: { ...it.GPU },
  };
}

export function instanceResourcesJSON(r: InstanceResources): InstanceResourcesJSON {
  return { VCPUs: r.vcpus, RAM: r.ram, Scratch: r.scratch, GPUs: r.gpus, GPUVRAM: r.gpuVRAM };
}

export function queueEntJSON(entry: QueueEntry, schedulingStatus: string, extras: QueueEntExtras = {}): QueueEntJSON {
  const { blocker } = extras;
  // Only a waiting container has a start to estimate; one that can never start has no finite one.
  const e = blocker && blocker.reason !== 'preparing' && Number.isFinite(extras.estimate?.startHigh) ? extras.estimate : undefined;
  const status = e && extras.appendEstimateAt !== undefined && schedulingStatus !== '' ? `${schedulingStatus}  ${estimateSentence(extras.appendEstimateAt, e.startLow, e.startHigh)}` : schedulingStatus;
  return {
    container: containerJSON(entry.container),
    instance_resources: instanceResourcesJSON(entry.instanceResources),
    instance_types: entry.instanceTypes.map(instanceTypeJSON),
    first_seen_at: goTime(entry.firstSeenAt),
    scheduling_status: status,
    ...(blocker ? { blocker: { ...blocker, summary: describeBlocker(blocker) } } : {}),
    ...(e ? { estimate: { start_low: goTime(e.startLow), start_typical: goTime(e.startTypical), start_high: goTime(e.startHigh), as_of: goTime(e.at) } } : {}),
    ...(blocker && extras.suggestions && extras.suggestions.length > 0 ? { suggestions: extras.suggestions } : {}),
    ...(extras.cost === undefined ? {} : { cost: roundCents(extras.cost) }),
  };
}

/** Dollars to a hundredth of a cent: enough for a person, and stable in JSON. */
function roundCents(dollars: number): number {
  return Math.round(dollars * 10_000) / 10_000;
}

export function instanceViewJSON(v: InstanceView, draining?: InstanceDraining, cost?: number): InstanceViewJSON {
  const note = shownNote(v);
  return {
    instance: v.instance,
    address: v.address,
    price: v.price,
    arvados_instance_type: v.arvadosInstanceType,
    provider_instance_type: v.providerInstanceType,
    last_container_uuid: v.lastContainerUUID,
    last_busy: goTime(v.lastBusy),
    // Only a create in flight has no id; the reference leaves its list nil.
    running_container_uuids: v.instance === '' ? null : [...v.runningContainerUUIDs],
    worker_state: v.workerState,
    idle_behavior: v.idleBehavior,
    // Ours, not the reference's: why a warm pool or pre-warming created it, or, while it
    // lasts, why an idle VM is kept past TimeoutIdle to the end of its paid period.
    ...(note === undefined ? {} : { note }),
    ...(draining ? { draining: { since: goTime(draining.since), reason: draining.reason } } : {}),
    ...(v.reclaimNotice === undefined ? {} : { reclaim_notice: v.reclaimNotice }),
    ...(cost === undefined ? {} : { cost: roundCents(cost) }),
  };
}

/** The spending cap in the instances list (`spending_cap`): levels in $/h (0: not set), the burn, and the day's spend. */
export interface SpendingCapJSON {
  soft_per_hour: number;
  hard_per_hour: number;
  burn_per_hour: number;
  spent_today: number;
  forecast_today: number;
  /** Containers the last scheduling pass held back for the cap. */
  held_containers: number;
}

export function spendingCapJSON(v: SpendingCapView): SpendingCapJSON {
  return {
    soft_per_hour: v.soft,
    hard_per_hour: v.hard,
    burn_per_hour: roundCents(v.burn),
    spent_today: roundCents(v.spentToday),
    forecast_today: roundCents(v.forecastToday),
    held_containers: v.held,
  };
}
