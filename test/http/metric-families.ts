/**
 * `/metrics.json` (Prometheus MetricFamily messages, protobuf JSON mapping)
 * written back as the text exposition format, so that promtool, which reads
 * only the text format, can check what the JSON says: names, types, help,
 * label names and values, and the shape of each summary and histogram.
 */

import type { JSONFloat, LabelPair, MetricFamilyJSON } from '../../src/http/metrics-json.js';

export type { MetricFamilyJSON };

function num(v: JSONFloat): string {
  if (v === 'Infinity') return '+Inf';
  if (v === '-Infinity') return '-Inf';
  return String(v);
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labels(pairs: LabelPair[] | undefined, extra?: LabelPair): string {
  const all = [...(pairs ?? []), ...(extra ? [extra] : [])];
  return all.length === 0 ? '' : `{${all.map((l) => `${l.name}="${escapeLabel(l.value)}"`).join(',')}}`;
}

/** The text exposition of `families`; throws on a metric whose kind does not match its family's type. */
export function familiesToText(families: MetricFamilyJSON[]): string {
  const out: string[] = [];
  for (const f of families) {
    const type = f.type.toLowerCase();
    out.push(`# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}`, `# TYPE ${f.name} ${type}`);
    for (const m of f.metric) {
      if (type === 'summary' && m.summary) {
        for (const q of m.summary.quantile ?? []) out.push(`${f.name}${labels(m.label, { name: 'quantile', value: num(q.quantile) })} ${num(q.value)}`);
        out.push(`${f.name}_sum${labels(m.label)} ${num(m.summary.sampleSum)}`, `${f.name}_count${labels(m.label)} ${m.summary.sampleCount}`);
      } else if (type === 'histogram' && m.histogram) {
        for (const b of m.histogram.bucket ?? []) out.push(`${f.name}_bucket${labels(m.label, { name: 'le', value: num(b.upperBound) })} ${b.cumulativeCount}`);
        // The JSON leaves the +Inf bucket out (as the Go client does); the text format needs it.
        out.push(`${f.name}_bucket${labels(m.label, { name: 'le', value: '+Inf' })} ${m.histogram.sampleCount}`);
        out.push(`${f.name}_sum${labels(m.label)} ${num(m.histogram.sampleSum)}`, `${f.name}_count${labels(m.label)} ${m.histogram.sampleCount}`);
      } else {
        const value = type === 'counter' ? m.counter : type === 'gauge' ? m.gauge : m.untyped;
        if (!value) throw new Error(`${f.name}: a ${f.type} family with a metric of another kind: ${JSON.stringify(m)}`);
        out.push(`${f.name}${labels(m.label)} ${num(value.value)}`);
      }
    }
  }
  return `${out.join('\n')}\n`;
}
