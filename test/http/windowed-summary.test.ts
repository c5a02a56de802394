/**
 * WindowedSummary: quantiles are NaN while a series' ten-minute window holds
 * no observation (as the Go client's), numbers once it does; the text says
 * NaN as the Go client writes it.
 */
import assert from 'node:assert/strict';
import { Registry } from 'prom-client';
import { goNaN, REFERENCE_SUMMARY_OPTS, WindowedSummary } from '../../src/http/windowed-summary.js';
import { metricsJSON } from '../../src/http/metrics-json.js';


/** Runs `fn` with Date.now() answering what `at()` says (prom-client ages its windows by it). */
async function withNow<T>(at: () => number, fn: () => Promise<T>): Promise<T> {
  const real = Date.now;
  Date.now = at;
  try {
    return await fn();
  } finally {
    Date.now = real;
  }
}

describe('WindowedSummary', () => {
  it('reports NaN quantiles before any observation, and the observations after', async () => {
    const registry = new Registry();
    const s = new WindowedSummary({ name: 'wait_seconds', help: 'h', registers: [registry], ...REFERENCE_SUMMARY_OPTS });
    const before = goNaN(await registry.metrics());
    for (const q of ['0.5', '0.9', '0.95', '0.99']) assert.match(before, new RegExp(`^wait_seconds\\{quantile="${q}"\\} NaN$`, 'm'));
    assert.match(before, /^wait_seconds_count 0$/m);
    s.observe(3);
    s.observe(3);
    const after = await registry.metrics();
    assert.match(after, /^wait_seconds\{quantile="0\.5"\} 3$/m);
    assert.doesNotMatch(after, /Nan|NaN/);
  });

  it('reports NaN for a series whose window has emptied, not for one observed within it, in /metrics.json too', async () => {
    let now = 1_800_000_000_000;
    await withNow(
      () => now,
      async () => {
        const registry = new Registry();
        const s = new WindowedSummary({ name: 'probe_seconds', help: 'h', labelNames: ['outcome'], registers: [registry], ...REFERENCE_SUMMARY_OPTS });
        s.observe({ outcome: 'fail' }, 5);
        s.observe({ outcome: 'success' }, 1);
        now += 601_000;
        s.observe({ outcome: 'success' }, 2);
        const values = (await s.get()).values.filter((v) => (v.labels as Record<string, unknown>).quantile === 0.5);
        assert.deepEqual(
          values.map((v) => [v.labels.outcome, v.value]),
          [
            ['fail', NaN],
            ['success', 2],
          ],
        );
        // The count and sum keep every observation, as the Go client's.
        assert.match(await registry.metrics(), /^probe_seconds_count\{outcome="fail"\} 1$/m);
        const json = JSON.parse(await metricsJSON([registry])) as Array<{ metric: Array<{ label: Array<{ name: string; value: string }>; summary: { quantile: Array<{ value: unknown }> } }> }>;
        const fail = json[0].metric.find((m) => m.label.some((l) => l.value === 'fail'));
        assert.deepEqual(fail?.summary.quantile.map((q) => q.value), ['NaN', 'NaN', 'NaN', 'NaN']);
      },
    );
  });

  it('goNaN rewrites only whole NaN values', () => {
    assert.equal(goNaN('a{x="Nan"} Nan\nb 1\nc Nan\n'), 'a{x="Nan"} NaN\nb 1\nc NaN\n');
  });
});
