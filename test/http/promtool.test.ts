/**
 * Our /metrics output checked by Prometheus's own `promtool check metrics`:
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
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { call, type Stack, startStack, until } from './helpers.js';

const UNPACKED = fileURLToPath(new URL('../../node_modules/.cache/promtool/usr/bin/promtool', import.meta.url));

/** The promtool to use: PROMTOOL, the one on the PATH, or the one ensure-promtool unpacked. */
function findPromtool(): string | undefined {
  for (const bin of [process.env.PROMTOOL, 'promtool', UNPACKED]) {
    if (bin && !spawnSync(bin, ['--version'], { stdio: 'ignore' }).error) return bin;
  }
  return undefined;
}

/** Lints promtool reports on names we keep as they are, and why. */
const ACCEPTED: Array<[RegExp, string]> = [
  [/^arvados_dispatchcloud_(boot_outcomes|driver_operations|instances_disappeared) counter metrics should have "_total" suffix$/, "the reference's counter names"],
  [/^arvados_dispatchcloud_(instances_total|memory_bytes_total|vcpus_total) non-counter metrics should not have "_total" suffix$/, "the reference's gauge names"],
  [/^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/, "prom-client's default metrics"],
];

describe('promtool check metrics', function () {
  this.timeout(30_000);
  const promtool = findPromtool();
  let stack: Stack | undefined;

  before(async function () {
    if (!promtool) {
      console.log(`      skipped: promtool is neither on the PATH nor at ${UNPACKED} (npm pretest unpacks it when apt-get can download it)`);
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

    const r = spawnSync(promtool!, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    // 0: clean; 3: lint problems only; anything else (1) is a parse error.
    assert.ok(r.status === 0 || r.status === 3, `promtool exited ${r.status}: ${r.stdout}${r.stderr}`);
    const problems = `${r.stdout}${r.stderr}`.split('\n').filter((l) => l.trim() !== '');
    const unexpected = problems.filter((p) => !ACCEPTED.some(([re]) => re.test(p)));
    assert.deepEqual(unexpected, [], `lints on names we could fix:\n${unexpected.join('\n')}`);
  });

  it('fails on an exposition it cannot parse (so the check above means something)', () => {
    const r = spawnSync(promtool!, ['check', 'metrics'], { input: '# TYPE x gauge\nx{a="1" 1\n', encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.match(`${r.stdout}${r.stderr}`, /parsing error/);
  });
});
