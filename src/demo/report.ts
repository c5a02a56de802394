/**
 * What the demo shows: a one-line picture of the run while it goes
 * (containers by state, VMs by state) and a summary at the end (outcomes,
 * cancellation reasons, VMs created, what they would have cost, queue wait).
 */
import type { Container, ContainerState } from '../arvados/types.js';
import { CONTAINER_STATES } from '../arvados/types.js';
import type { InstanceView } from '../scheduler/interfaces.js';
import { WORKER_STATES } from '../worker/states.js';

/** Lifetime of one VM as the demo saw it, for the cost estimate. */
interface Seen {
  type: string;
  price: number;
  first: number;
  last: number;
}

/** Samples the pool's instances over time. */
export class VMTracker {
  private readonly seen = new Map<string, Seen>();

  observe(now: number, instances: InstanceView[]): void {
    for (const i of instances) {
      if (i.instance.startsWith('pending-')) continue;
      const s = this.seen.get(i.instance);
      if (s) s.last = now;
      else this.seen.set(i.instance, { type: i.arvadosInstanceType, price: i.price, first: now, last: now });
    }
  }

  get created(): number {
    return this.seen.size;
  }

  /** Price x lifetime summed over every VM seen, in the price's currency. */
  cost(): number {
    let total = 0;
    for (const s of this.seen.values()) total += (s.price * (s.last - s.first)) / 3_600_000;
    return total;
  }

  byType(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.seen.values()) out[s.type] = (out[s.type] ?? 0) + 1;
    return out;
  }
}

export function progressLine(elapsedMs: number, containers: Container[], vms: InstanceView[]): string {
  const byState = count(CONTAINER_STATES, containers.map((c) => c.state));
  const byWorker = count(WORKER_STATES, vms.map((v) => v.workerState));
  const cs = CONTAINER_STATES.map((s) => `${s} ${byState[s]}`).join(', ');
  const ws = WORKER_STATES.filter((s) => byWorker[s] > 0).map((s) => `${s} ${byWorker[s]}`).join(', ');
  return `[${(elapsedMs / 1000).toFixed(0).padStart(3)}s] containers: ${cs} | VMs: ${vms.length}${ws ? ` (${ws})` : ''}`;
}

function count<T extends string>(keys: readonly T[], values: T[]): Record<T, number> {
  const out = Object.fromEntries(keys.map((k) => [k, 0])) as Record<T, number>;
  for (const v of values) out[v]++;
  return out;
}

/** The p-th percentile (0..100) by nearest rank; NaN for no values. */
export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil((p / 100) * sorted.length)));
  return sorted[rank - 1];
}

export interface SummaryInput {
  elapsedMs: number;
  containers: Container[];
  /** Queue wait of each container that started: Queued to Running, ms. */
  waits: number[];
  vms: VMTracker;
  vmsLeft: number;
  notes: Map<string, string>;
  /** Why a container was cancelled when its runtime_status does not say (the dispatcher's own cancels set only the state). */
  reasons?: Map<string, string>;
}

export function summary(s: SummaryInput): string {
  const by = (state: ContainerState) => s.containers.filter((c) => c.state === state);
  const complete = by('Complete');
  const failed = complete.filter((c) => c.exit_code !== 0);
  const cancelled = by('Cancelled');
  const lines = [
    '',
    `Finished in ${(s.elapsedMs / 1000).toFixed(1)} s: ${s.containers.length} containers.`,
    `  completed: ${complete.length} (exit code 0: ${complete.length - failed.length}, non-zero: ${failed.length})`,
    `  cancelled: ${cancelled.length}`,
  ];
  const reasons = new Map<string, string[]>();
  for (const c of cancelled) {
    const reason = String(c.runtime_status?.error ?? s.reasons?.get(c.uuid) ?? 'no reason recorded');
    reasons.set(reason, [...(reasons.get(reason) ?? []), c.uuid]);
  }
  for (const [reason, uuids] of reasons) {
    const note = uuids.map((u) => s.notes.get(u)).find(Boolean);
    lines.push(`    ${uuids.length} x "${reason}"${note ? ` (${note})` : ''}: ${uuids.slice(0, 3).join(', ')}${uuids.length > 3 ? ', ...' : ''}`);
  }
  const unfinished = s.containers.length - complete.length - cancelled.length;
  if (unfinished > 0) lines.push(`  NOT FINISHED: ${unfinished}`);
  const types = Object.entries(s.vms.byType())
    .map(([t, n]) => `${n} ${t}`)
    .join(', ');
  lines.push(`VMs created: ${s.vms.created}${types ? ` (${types})` : ''}; left running: ${s.vmsLeft}`);
  lines.push(`Simulated cost: $${s.vms.cost().toFixed(4)} (price per hour x time each VM was up)`);
  const sec = (ms: number) => (Number.isNaN(ms) ? '-' : `${(ms / 1000).toFixed(1)} s`);
  lines.push(`Queue wait (queued -> running): p50 ${sec(percentile(s.waits, 50))}, p95 ${sec(percentile(s.waits, 95))}, over ${s.waits.length} containers`);
  return lines.join('\n') + '\n';
}
