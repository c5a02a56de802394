/**
 * `containers why UUID` in a few readable lines: the container, the
 * reference's scheduling_status, the structured blocker in words, what is
 * ahead of it, what MaximumPriceFactor left out, the estimate and the
 * suggestions when the dispatcher gives them, and the timeline.
 */
import type { Blocker } from '../scheduler/why.js';

/** The management API's container item, as far as this reads it. */
export interface WhyItem {
  container: { uuid: string; state: string; priority: number };
  scheduling_status: string;
  blocker?: Blocker;
  estimate?: { start_low?: string; start_typical?: string; start_high?: string };
  suggestions?: Array<{ change: string; effect: string }>;
}

/** The timeline route's answer, as far as this reads it. */
export interface WhyTimeline {
  events: Array<{ at: string; kind: string; [detail: string]: unknown }>;
}

const GiB = 2 ** 30;

/** HH:MM:SS of an RFC 3339 time, UTC. */
function clock(t: string | undefined): string {
  if (!t) return '?';
  const d = new Date(t);
  return Number.isNaN(d.getTime()) ? t : d.toISOString().slice(11, 19);
}

function gib(bytes: number): string {
  const g = bytes / GiB;
  return `${g >= 10 ? g.toFixed(0) : g.toFixed(1)} GiB`;
}

/** A span in words: "40 s", "6 min", "2.5 h". */
export function span(ms: number): string {
  const s = Math.max(0, ms) / 1000;
  if (s < 90) return `${Math.round(s)} s`;
  const m = s / 60;
  if (m < 90) return `${Math.round(m)} min`;
  return `${(m / 60).toFixed(1)} h`;
}

/** The blocker in one sentence. */
export function describeBlocker(b: Blocker): string {
  switch (b.reason) {
    case 'priority_zero':
      return `priority is 0 (state ${b.state}): it will not be scheduled until someone wants it`;
    case 'supervisor_cap':
      return `workflow runner cap reached: ${b.running} of ${b.cap} running (SupervisorFraction of MaxInstances); position ${b.position} among waiting runners`;
    case 'concurrency_limit':
      return (
        `concurrency limit reached: ${b.running} of ${b.limit} containers running or starting` +
        (b.controller !== 'normal' ? ` (controller ${b.controller})` : '') +
        (b.last_503 ? `; last 503 from the controller at ${clock(b.last_503)}` : '')
      );
    case 'locking':
      return `being locked${b.instance ? `; it will start on ${b.instance}` : ''}`;
    case 'previous_attempt':
      return `waiting for the crunch-run of a previous attempt to exit${b.instance ? ` on ${b.instance}` : ''}`;
    case 'booting':
      return `waiting for a ${b.instance_type} instance to boot${b.instance ? ` (${b.instance}${b.booting_since ? `, booting since ${clock(b.booting_since)}` : ''})` : ' (being created)'}`;
    case 'preparing':
      return `handed to crunch-run${b.instance ? ` on ${b.instance}` : ''}: preparing to run`;
    case 'types_at_capacity':
      return `every eligible instance type is at capacity: ${b.types
        .map((t) => `${t.name}${t.since ? ` since ${clock(t.since)}` : ''}${t.until ? ` (retry at ${clock(t.until)})` : ''}${t.error ? `: ${t.error}` : ''}`)
        .join('; ')}`;
    case 'quota':
      return b.bucket === 'MaxInstances'
        ? `at MaxInstances: ${b.in_use} of ${b.limit ?? '?'} instances`
        : `at the cloud's quota with ${b.in_use} instances${b.since ? ` since ${clock(b.since)}` : ''}${b.until ? ` (retry at ${clock(b.until)})` : ''}${b.error ? `: ${b.error}` : ''}`;
    case 'create_declined':
      return `no instance can be created now: ${b.why}${b.until ? ` (until ${clock(b.until)})` : ''}`;
    case 'cluster_capacity':
      return 'waiting for room on the cluster';
  }
}

export function formatWhy(item: WhyItem, timeline: WhyTimeline | undefined, now: number): string {
  const c = item.container;
  const lines = [`${c.uuid}  ${c.state}, priority ${c.priority}`];
  if (item.scheduling_status) lines.push(`  status:   ${item.scheduling_status}`);
  const b = item.blocker;
  if (b) {
    lines.push(`  why:      ${describeBlocker(b)}`);
    if (b.ahead && b.ahead.containers > 0) {
      lines.push(`  ahead:    ${b.ahead.containers} waiting container${b.ahead.containers === 1 ? '' : 's'} that can use its instance types, needing ${b.ahead.vcpus} VCPUs and ${gib(b.ahead.ram_bytes)}`);
    }
    if (b.price_cap) {
      const types = b.price_cap.types.map((t) => `${t.name} (${t.price}/h, ${t.now})`).join(', ');
      lines.push(`  price:    MaximumPriceFactor ${b.price_cap.maximum_price_factor} leaves out ${types}, which could run it now`);
    }
  }
  const e = item.estimate;
  if (e?.start_typical) {
    const at = (t: string | undefined): number => (t ? new Date(t).getTime() - now : NaN);
    const low = at(e.start_low);
    const high = at(e.start_high);
    const range = Number.isNaN(low) || Number.isNaN(high) ? '' : ` (between ${span(low)} and ${span(high)})`;
    lines.push(`  estimate: starts in about ${span(at(e.start_typical))}${range}`);
  }
  for (const s of item.suggestions ?? []) lines.push(`  would help: ${s.change}: ${s.effect}`);
  if (timeline && timeline.events.length > 0) {
    lines.push('  timeline:');
    let prev: number | undefined;
    for (const ev of timeline.events) {
      const t = new Date(ev.at).getTime();
      const detail = Object.entries(ev)
        .filter(([k]) => k !== 'at' && k !== 'kind')
        .map(([k, v]) => `${k}=${String(v)}`)
        .join(' ');
      const delta = prev === undefined || Number.isNaN(t) ? '' : `+${span(t - prev)}`;
      lines.push(`    ${clock(ev.at)}  ${delta.padStart(8)}  ${ev.kind}${detail ? `  ${detail}` : ''}`);
      if (!Number.isNaN(t)) prev = t;
    }
  }
  return lines.join('\n') + '\n';
}
