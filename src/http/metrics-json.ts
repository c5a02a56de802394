/**
 * `/metrics.json` as the reference serves it: a JSON array of Prometheus
 * `MetricFamily` protobuf messages in the protobuf JSON mapping (Go's
 * jsonpb, two-space indent). That is the documented shape of
 * `io.prometheus.client.MetricFamily` (client_model's metrics.proto), so
 * tools written against the reference read ours:
 *
 *   [{"name": "...", "help": "...", "type": "GAUGE",
 *     "metric": [{"label": [{"name": "k", "value": "v"}], "gauge": {"value": 1}}]}, ...]
 *
 * Field names are lowerCamelCase; enum values are names; 64-bit integers
 * (`sampleCount`, `cumulativeCount`) are strings; NaN and infinities are the
 * strings "NaN", "Infinity", "-Infinity". Families are sorted by name,
 * labels by name, and a family's metrics by their label values, and a
 * family without series is left out, as the Go client's Gather() does.
 *
 * prom-client's own `getMetricsAsJSON()` is a different shape (a `values`
 * list with `_sum`/`_count` samples inline), so this converts from it.
 */
import type { MetricObjectWithValues, MetricValue, Registry } from 'prom-client';
import { compareCodeUnits } from '../compare.js';

type Labels = Record<string, string | number>;

export interface LabelPair {
  name: string;
  value: string;
}

/** A float as jsonpb writes it. */
export type JSONFloat = number | 'NaN' | 'Infinity' | '-Infinity';

/** One metric (series) of a family: its labels and its value(s) by kind. */
export interface MetricJSON {
  label?: LabelPair[];
  gauge?: { value: JSONFloat };
  counter?: { value: JSONFloat };
  untyped?: { value: JSONFloat };
  summary?: { sampleCount: string; sampleSum: JSONFloat; quantile?: { quantile: JSONFloat; value: JSONFloat }[] };
  histogram?: { sampleCount: string; sampleSum: JSONFloat; bucket?: { cumulativeCount: string; upperBound: JSONFloat }[] };
}

/** One element of the `/metrics.json` array. */
export interface MetricFamilyJSON {
  name: string;
  help: string;
  type: 'COUNTER' | 'GAUGE' | 'SUMMARY' | 'UNTYPED' | 'HISTOGRAM';
  metric: MetricJSON[];
}

/** The body of `/metrics.json` for the metrics of `registries` (none shares a metric name with another). */
export async function metricsJSON(registries: Iterable<Registry | undefined>): Promise<string> {
  const all = [];
  for (const r of registries) if (r) all.push(...(await r.getMetricsAsJSON()));
  // The Go client's Gather() leaves out a family with no series yet (a
  // labelled metric nothing was recorded for).
  const families = all
    .map(toFamily)
    .filter((f) => f.metric.length > 0)
    .sort((a, b) => compareCodeUnits(a.name, b.name));
  return `[${families.map((f) => JSON.stringify(f, null, 2)).join(',')}]`;
}

function toFamily(m: MetricObjectWithValues<MetricValue<string>>): MetricFamilyJSON {
  const values = m.values as MetricValue<string>[] & { metricName?: string }[];
  const type = String(m.type);
  const family: MetricFamilyJSON = { name: m.name, help: m.help, type: 'UNTYPED', metric: [] };
  if (type === 'summary' || type === 'histogram') {
    // One metric per label set, with its quantiles or buckets, sum and count.
    const groups = new Map<string, { labels: Labels; sum: number; count: number; parts: { key: number; value: number }[] }>();
    const special = type === 'summary' ? 'quantile' : 'le';
    for (const v of values) {
      const { [special]: part, ...labels } = (v.labels ?? {}) as Labels;
      const key = JSON.stringify(sortedPairs(labels));
      let g = groups.get(key);
      if (!g) groups.set(key, (g = { labels, sum: 0, count: 0, parts: [] }));
      const name = (v as { metricName?: string }).metricName ?? m.name;
      if (name === `${m.name}_sum`) g.sum = v.value;
      else if (name === `${m.name}_count`) g.count = v.value;
      else if (part !== undefined) g.parts.push({ key: part === '+Inf' ? Infinity : Number(part), value: v.value });
    }
    for (const g of groups.values()) {
      const metric: MetricJSON = withLabels(g.labels);
      if (type === 'summary') {
        family.type = 'SUMMARY';
        metric.summary = { sampleCount: String(g.count), sampleSum: jsonFloat(g.sum) };
        if (g.parts.length > 0) metric.summary.quantile = g.parts.map((p) => ({ quantile: jsonFloat(p.key), value: jsonFloat(p.value) }));
      } else {
        family.type = 'HISTOGRAM';
        metric.histogram = { sampleCount: String(g.count), sampleSum: jsonFloat(g.sum) };
        // The Go client leaves the +Inf bucket out: the count says it.
        const buckets = g.parts.filter((p) => p.key !== Infinity);
        if (buckets.length > 0) metric.histogram.bucket = buckets.map((p) => ({ cumulativeCount: String(p.value), upperBound: jsonFloat(p.key) }));
      }
      family.metric.push(metric);
    }
  } else {
    const kind = type === 'counter' ? 'counter' : type === 'gauge' ? 'gauge' : 'untyped';
    family.type = kind === 'counter' ? 'COUNTER' : kind === 'gauge' ? 'GAUGE' : 'UNTYPED';
    for (const v of values) family.metric.push({ ...withLabels((v.labels ?? {}) as Labels), [kind]: { value: jsonFloat(v.value) } });
  }
  family.metric.sort((a, b) => compareCodeUnits(labelKey(a), labelKey(b)));
  return family;
}

function sortedPairs(labels: Labels): LabelPair[] {
  return Object.entries(labels)
    .map(([name, value]) => ({ name, value: String(value) }))
    .sort((a, b) => compareCodeUnits(a.name, b.name));
}

function withLabels(labels: Labels): MetricJSON {
  const pairs = sortedPairs(labels);
  return pairs.length > 0 ? { label: pairs } : {};
}

function labelKey(m: MetricJSON): string {
  return (m.label ?? []).map((l) => l.value).join('\u0000');
}

function jsonFloat(n: number): JSONFloat {
  if (Number.isNaN(n)) return 'NaN';
  if (n === Infinity) return 'Infinity';
  if (n === -Infinity) return '-Infinity';
  return n;
}
