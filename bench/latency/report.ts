/**
 * The dispatch benchmarks' tables: one latency run's stages, the feed
 * against polling side by side with the targets, and the request rates.
 */
import { STAGES, type LatencyResult } from './measure.js';
import { REQUEST_KIND_LABELS, REQUEST_KINDS, type RateResult } from './rate.js';

const ms = (x: number): string => (Number.isNaN(x) ? '-' : x >= 100 ? x.toFixed(0) : x.toFixed(1));
const perS = (x: number): string => (Number.isNaN(x) ? '-' : x.toFixed(2));

/** Rows under a header, the first column left-aligned and the rest right-aligned. */
function table(head: string[], rows: string[][]): string[] {
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]): string => row.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [fmt(head), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(fmt)];
}

export function formatReport(r: LatencyResult): string {
  const o = r.options;
  const lines: string[] = [];
  lines.push(
    `Dispatch latency ${o.feed ? 'WITH' : 'WITHOUT'} the event feed: ${o.containers} containers (2 VCPUs, sleep ${o.runTimeMs / 1000} s), ` +
      `one every ${o.gapMs} ms on average (uniform 0.5-1.5x), onto ${o.vms} pre-booted idle small VMs; lame cloud over real SSH; ` +
      `seed ${o.seed}; ${o.warmup} unmeasured warm-up containers first.`,
  );
  lines.push(
    `PollInterval ${r.config.PollInterval} ms, ProbeInterval ${r.config.ProbeInterval} ms, MaxProbesPerSecond ${r.config.MaxProbesPerSecond}, ` +
      `MaxInstances ${r.config.MaxInstances}, TimeoutIdle 1h. Log (${o.logLevel}): ${o.logPath}`,
  );
  lines.push(
    `Samples on an idle VM: ${r.idleSamples} of ${r.samples.length}; first seen through the feed: ${r.viaFeed}; ` +
      `VMs created while measuring: ${r.vmsCreatedWhileMeasuring}.`,
  );
  lines.push('');
  lines.push(
    ...table(
      ['stage (ms)', 'n', 'median', 'p95', 'max'],
      STAGES.map(([name, , , label]) => {
        const s = r.stats[name];
        return [label, String(s.n), ms(s.median), ms(s.p95), ms(s.max)];
      }),
    ),
  );
  for (const f of r.flagged.slice(0, 10)) lines.push(`flagged ${f.uuid}: ${f.why}`);
  if (r.flagged.length > 10) lines.push(`... and ${r.flagged.length - 10} more flagged`);
  for (const p of r.problems) lines.push(`PROBLEM: ${p}`);
  lines.push(`Wall time ${(r.wallMs / 1000).toFixed(1)} s.`);
  return lines.join('\n') + '\n';
}

/** Targets: with the feed, median under 200 ms and p95 under 500 ms; by polling alone, median under 1 s beyond the interval. */
export function latencyTargets(r: LatencyResult): Array<{ what: string; met: boolean }> {
  const t = r.stats.total;
  if (r.options.feed) {
    return [
      { what: `median ${ms(t.median)} ms < 200 ms`, met: t.median < 200 },
      { what: `p95 ${ms(t.p95)} ms < 500 ms`, met: t.p95 < 500 },
    ];
  }
  return [{ what: `median ${ms(t.median)} ms < PollInterval + 1 s`, met: t.median < r.config.PollInterval + 1000 }];
}

export function formatComparison(runs: LatencyResult[]): string {
  if (runs.length === 0) return '';
  const lines = ['Queue -> crunch-run --detach on an idle VM (ms):', ''];
  lines.push(
    ...table(
      ['run', 'PollInterval', 'n', 'median', 'p95', 'max', 'dispatch median', 'targets'],
      runs.map((r) => {
        const t = r.stats.total;
        const targets = latencyTargets(r);
        return [
          r.options.feed ? 'with the event feed' : 'polling only',
          `${r.config.PollInterval / 1000} s`,
          String(t.n),
          ms(t.median),
          ms(t.p95),
          ms(t.max),
          ms(r.stats.dispatch.median),
          targets.every((x) => x.met) ? 'met' : `NOT met (${targets.filter((x) => !x.met).map((x) => x.what).join(', ')})`,
        ];
      }),
    ),
  );
  return lines.join('\n') + '\n';
}

export function formatRates(runs: RateResult[]): string {
  if (runs.length === 0) return '';
  const o = runs[0].options;
  const lines = [
    `Controller requests per second, ${o.perSecond} containers/s arriving for ${o.durationMs / 1000} s (1 VCPU, sleep ${o.runTimeMs / 1000} s) ` +
      `onto ${o.vms} idle ${o.vmVCPUs}-VCPU VMs, PollInterval ${o.pollIntervalMs / 1000} s; counted from ${o.warmMs / 1000} s to the last arrival:`,
    '',
  ];
  const label = (r: RateResult): string => (r.options.feed ? 'with feed' : 'polling');
  const rows: string[][] = REQUEST_KINDS.map((k) => [REQUEST_KIND_LABELS[k], ...runs.map((r) => perS(r.perSecond[k]))]);
  rows.push(['dispatcher, all', ...runs.map((r) => perS(r.dispatcherPerSecond))]);
  rows.push(['(crunch-run, all)', ...runs.map((r) => perS(r.crunchRunPerSecond))]);
  rows.push(['(arrivals)', ...runs.map((r) => perS(r.arrivalsPerSecond))]);
  rows.push(['(feed: container events)', ...runs.map((r) => perS(r.feedEventsPerSecond))]);
  rows.push(['(feed: refreshes)', ...runs.map((r) => perS(r.refreshesPerSecond))]);
  const head = ['requests/s', ...runs.map(label)];
  const feed = runs.find((r) => r.options.feed);
  const poll = runs.find((r) => !r.options.feed);
  if (feed && poll) {
    head.push('feed - polling');
    for (const row of rows) row.push(perS(Number(row[1 + runs.indexOf(feed)]) - Number(row[1 + runs.indexOf(poll)])));
  }
  lines.push(...table(head, rows));
  for (const r of runs) {
    lines.push(`${label(r)}: ${r.completed} of ${r.submitted} completed; wall ${(r.wallMs / 1000).toFixed(1)} s`);
    for (const p of r.problems) lines.push(`PROBLEM (${label(r)}): ${p}`);
  }
  return lines.join('\n') + '\n';
}
