/**
 * `containers why UUID` in a few readable lines: the container, the
 * reference's scheduling_status, the structured blocker in words, what is
 * ahead of it, what MaximumPriceFactor left out, the estimate and the
 * suggestions when the dispatcher gives them, and the timeline.
 */
import type { Blocker } from '../scheduler/blocker.js';
import { clockTime, describeBlocker, span } from '../scheduler/why-text.js';

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

function gib(bytes: number): string {
  const g = bytes / GiB;
  return `${g >= 10 ? g.toFixed(0) : g.toFixed(1)} GiB`;
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
    const range = Number.isNaN(low) || Number.isNaN(high) || span(low) === span(high) ? '' : ` (between ${span(low)} and ${span(high)})`;
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
      lines.push(`    ${clockTime(ev.at)}  ${delta.padStart(8)}  ${ev.kind}${detail ? `  ${detail}` : ''}`);
      if (!Number.isNaN(t)) prev = t;
    }
  }
  return lines.join('\n') + '\n';
}
