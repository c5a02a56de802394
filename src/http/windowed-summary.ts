/**
 * Summaries whose quantiles are NaN while their sliding window holds no
 * observation, as the Go client's are. prom-client reports 0 then, so on a
 * quiet cluster (no VM booted in the last ten minutes, the usual case) a
 * dashboard would show "0 s to SSH" instead of a gap, and an average or a
 * "below X" alert over it would be wrong.
 *
 * The window's emptiness is read from prom-client's per-series state
 * (`hashMap[..].td`), which it does not export; the test of this file fails
 * if a prom-client upgrade moves it.
 */
import { Summary } from 'prom-client';

/** The reference's summary settings: these quantiles, over its default 10-minute window. */
export const REFERENCE_SUMMARY_OPTS = { percentiles: [0.5, 0.9, 0.95, 0.99], maxAgeSeconds: 600, ageBuckets: 5 };

interface SeriesState {
  labels: Record<string, string | number>;
  td: { size(): number };
}

/** One key per label set, whatever the order its labels were given in. */
function labelsKey(labels: Record<string, string | number | undefined>): string {
  return JSON.stringify(
    Object.keys(labels)
      .filter((k) => k !== 'quantile' && labels[k] !== undefined)
      .sort()
      .map((k) => [k, String(labels[k])]),
  );
}

export class WindowedSummary<T extends string = string> extends Summary<T> {
  override async get(): ReturnType<Summary<T>['get']> {
    const out = await super.get();
    const series = (this as unknown as { hashMap: Record<string, SeriesState> }).hashMap;
    const empty = new Set<string>();
    // After super.get(): its read rotated the windows, so size() is the current window's.
    for (const s of Object.values(series)) if (s.td.size() === 0) empty.add(labelsKey(s.labels));
    if (empty.size === 0) return out;
    for (const v of out.values) {
      const labels = v.labels as Record<string, string | number | undefined>;
      if (labels.quantile !== undefined && empty.has(labelsKey(labels))) v.value = NaN;
    }
    return out;
  }
}

/**
 * prom-client writes NaN as `Nan`; the Go client (and the text format's
 * examples) as `NaN`. Prometheus reads either, but people and scripts
 * comparing with the reference's output see the difference.
 */
export function goNaN(text: string): string {
  return text.replace(/ Nan$/gm, ' NaN');
}
