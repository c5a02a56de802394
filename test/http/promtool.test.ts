/**
 * Our /metrics output checked by Prometheus's own `promtool check metrics`,
 * and /metrics.json too, written back as text (`metric-families.ts`):
 * it must parse, and its lints may only be about names that are not ours
 * to change. The reference's counters lack the `_total` suffix and some of
 * its gauges have it; dashboards are built on those names, so they stay.
 * prom-client's default Node.js gauges end in `_total` too.
 *
 * promtool comes from `npm pretest` (scripts/ensure-promtool.mjs); without
 * it the test skips, saying why.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { findPromtool, UNPACKED_PROMTOOL } from '../fixtures/promtool.js';
import { call, type Stack, startStack, until } from './helpers.js';
import { familiesToText, type MetricFamilyJSON } from './metric-families.js';

/** Lints promtool reports on names we keep as they are, and why. */
const ACCEPTED: Array<[RegExp, string]> = [
  [/^arvados_dispatchcloud_(boot_outcomes|driver_operations|instances_disappeared) counter metrics should have "_total" suffix$/, "the reference's counter names"],
  [/^arvados_dispatchcloud_(instances_total|memory_bytes_total|vcpus_total) non-counter metrics should not have "_total" suffix$/, "the reference's gauge names"],
  [/^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/, "prom-client's default metrics"],
];

/** promtool's problems with `text` that ACCEPTED does not explain; throws when it cannot parse it. */
function promtoolProblems(promtool: string, text: string): string[] {
  const r = spawnSync(promtool, ['check', 'metrics'], { input: text, encoding: 'utf8' });
  // 0: clean; 3: lint problems only; anything else (1) is a parse error.
  assert.ok(r.status === 0 || r.status === 3, `promtool exited ${r.status}: ${r.stdout}${r.stderr}`);
  const problems = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
  return problems.filter((p) => !ACCEPTED.some(([re]) => re.test(p)));
}

describe('promtool check metrics', function () {
  this.timeout(30_000);
  const promtool = findPromtool();
  let stack: Stack | undefined;

  before(async function () {
    if (!promtool) {
      console.log(`      skipped: promtool is neither on the PATH nor at ${UNPACKED_PROMTOOL} (npm pretest unpacks it when apt-get can download it)`);
      this.skip();
    }
    stack = await startStack({ configSource: { sha256: '0'.repeat(64), sourceTimestampMs: 1_700_000_000_000, loadTimestampMs: 1_700_000_001_000 } });
  });
  after(async () => {
    await stack?.stop();
  });

  it('accepts our /metrics, every metric family present, with only the reference\'s own name lints', async () => {
    const s = stack!;
    // Every kind of series: a container run (pool and scheduler metrics), API
    // requests (request and limiter metrics), the config source.
    const uuid = s.controller.addContainer({ command: ['true'], priority: 1 }).uuid;
    await until('the container to complete', () => s.controller.get(uuid)?.state === 'Complete', 20_000);
    await call(s, 'GET', '/arvados/v1/dispatch/instances', { token: s.token });
    const text = (await call(s, 'GET', '/metrics', { token: s.token })).text;
    for (const name of ['arvados_dispatchcloud_instances_run_probe_duration_seconds', 'arvados_queue_delay_seconds', 'request_duration_seconds', 'arvados_config_load_timestamp_seconds']) {
      assert.match(text, new RegExp(`^# TYPE ${name} `, 'm'), name);
    }

    const unexpected = promtoolProblems(promtool!, text);
    assert.deepEqual(unexpected, [], `lints on names we could fix:\n${unexpected.join('\n')}`);
  });

  it('accepts our /metrics.json, which has every family of /metrics that has a series', async () => {
    const s = stack!;
    // A family with no series yet (a labelled metric nothing was recorded
    // for) has only its HELP and TYPE lines in /metrics, and is left out of
    // the JSON as the reference's Go client leaves it out.
    const typedWithSeries = (text: string): string[] => {
      const withSeries = new Set<string>();
      for (const line of text.split('\n')) {
        const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
        // A summary's or histogram's series carry suffixes; a gauge's name may end the same way.
        if (m) withSeries.add(m[1]!).add(m[1]!.replace(/_(bucket|sum|count)$/, ''));
      }
      return [...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!).filter((n) => withSeries.has(n)).sort();
    };
    // Scraped between two text scrapes: a family may get its first series in between (the
    // garbage collector's histogram, at the first collection), never lose one.
    const before = typedWithSeries((await call(s, 'GET', '/metrics', { token: s.token })).text);
    const r = await call(s, 'GET', '/metrics.json', { token: s.token });
    const after = typedWithSeries((await call(s, 'GET', '/metrics', { token: s.token })).text);
    assert.equal(r.status, 200);
    const families = JSON.parse(r.text) as MetricFamilyJSON[];
    const names = families.map((f) => f.name).sort();
    assert.deepEqual(before.filter((n) => !names.includes(n)), [], 'every family with a series before is in the JSON');
    assert.deepEqual(names.filter((n) => !after.includes(n)), [], 'every family in the JSON has a series after');
    assert.ok(names.length >= before.length && before.length > 20, `${names.length} families in the JSON, ${before.length} with series before`);

    const unexpected = promtoolProblems(promtool!, familiesToText(families));
    assert.deepEqual(unexpected, [], `lints on names we could fix, in /metrics.json:\n${unexpected.join('\n')}`);
  });

  it('fails on an exposition it cannot parse (so the check above means something)', () => {
    const r = spawnSync(promtool!, ['check', 'metrics'], { input: '# TYPE x gauge\nx{a="1" 1\n', encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(`${r.stdout}${r.stderr}`, /parsing error/);
  });
});
