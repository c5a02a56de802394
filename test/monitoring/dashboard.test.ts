/**
 * monitoring/grafana-dashboard.json, importable as is (the data source is a
 * template variable, never a particular Grafana's uid), shows what issue 17
 * asks for, and every metric its queries read is one the daemon exports:
 * the daemon is started on the lame cloud, runs a container, and its
 * /metrics is scraped. And monitoring/prometheus.yml, the example scrape
 * config, passes `promtool check config`.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import { findPromtool } from '../fixtures/promtool.js';
import { call, type Stack, startStack, until } from '../http/helpers.js';
import { promqlMetricNames } from './promql-names.js';

const DIR = fileURLToPath(new URL('../../monitoring/', import.meta.url));
const P = 'arvados_dispatchcloud_';

interface Target {
  expr: string;
  datasource?: { type?: string; uid?: string };
}
interface Panel {
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
}
interface Variable {
  name: string;
  type: string;
  query: string | { query: string };
  datasource?: { uid?: string };
}
interface Dashboard {
  uid: string;
  panels: Panel[];
  templating: { list: Variable[] };
  __inputs?: unknown;
}

const dashboard = JSON.parse(readFileSync(join(DIR, 'grafana-dashboard.json'), 'utf8')) as Dashboard;
const graphs = dashboard.panels.filter((p) => p.type !== 'row');

/** Every PromQL query in the dashboard: panel targets and template variables. */
function queries(): string[] {
  const fromPanels = graphs.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
  const fromVariables = dashboard.templating.list.filter((v) => v.type === 'query').map((v) => (typeof v.query === 'string' ? v.query : v.query.query));
  return [...fromPanels, ...fromVariables];
}

describe('PromQL metric names', () => {
  it('finds the metrics and nothing else (functions, labels, keywords, variables, ranges)', () => {
    assert.deepEqual(promqlMetricNames('sum by (state, instance_type) (rate(foo_total{job=~"$job",a="b(c)"}[$__rate_interval])) * 60'), ['foo_total']);
    assert.deepEqual(promqlMetricNames('time() - max(last_503_time{job="x"} > 0) offset 5m'), ['last_503_time']);
    assert.deepEqual(promqlMetricNames('a / on (instance) group_left (x) b and bool c'), ['a', 'b', 'c']);
    assert.deepEqual(promqlMetricNames('histogram_quantile(0.95, sum by (le) (rate(x_bucket[5m]))) * 1e3'), ['x_bucket']);
    assert.deepEqual(promqlMetricNames('label_values(arvados_x{job="y"}, instance_type)'), ['arvados_x']);
  });
});

describe('Grafana dashboard (monitoring/grafana-dashboard.json)', function () {
  this.timeout(60_000);
  let stack: Stack | undefined;

  after(async () => {
    await stack?.stop();
  });

  it('imports as is: every query uses the ${datasource} variable, a Prometheus data source variable', () => {
    const ds = dashboard.templating.list.find((v) => v.name === 'datasource');
    assert.ok(ds, 'a datasource variable');
    assert.equal(ds.type, 'datasource');
    assert.equal(ds.query, 'prometheus');
    assert.equal(dashboard.__inputs, undefined, 'no import-time inputs to fill in');
    for (const p of graphs) {
      assert.equal(p.datasource?.uid, '${datasource}', p.title);
      assert.ok((p.targets ?? []).length > 0, `${p.title} has queries`);
      for (const t of p.targets ?? []) assert.equal(t.datasource?.uid ?? p.datasource?.uid, '${datasource}', p.title);
    }
    for (const v of dashboard.templating.list.filter((x) => x.type === 'query')) assert.equal(v.datasource?.uid, '${datasource}', v.name);
  });

  it('shows queue, VMs, boot and probe times, start outcomes, cloud errors by class, controller 503s and the limit, cost per hour, queue wait and the event feed', () => {
    const used = new Set(queries().flatMap(promqlMetricNames));
    for (const name of [
      'queue_entries', // queue by state and instance type
      'instances_total', // VMs by state and type
      'instances_time_to_ssh_seconds',
      'instances_time_to_ready_for_container_seconds',
      'instances_run_probe_duration_seconds', // boot and probe times
      'crunch_run_starts_total', // boot and start outcomes
      'cloud_errors_total', // cloud errors by class
      'controller_requests_total',
      'max_concurrent_containers', // controller 503s and the concurrency limit
      'cost_per_hour_dollars', // cost per hour
      'queue_wait_seconds', // queue wait
      'event_feed_state', // the event feed: state, traffic, reconnections, found deaf
      'event_feed_messages_total',
      'event_feed_subscriptions_total',
      'event_feed_deaf_total',
    ]) {
      assert.ok(used.has(P + name), `${P + name} in no query`);
    }
  });

  it('reads only metrics the daemon exports', async () => {
    stack = await startStack({});
    // A container through to Complete, so that the summaries and labelled
    // series a run creates exist too.
    const uuid = stack.controller.addContainer({ command: ['true'], priority: 1 }).uuid;
    await until('the container to complete', () => stack!.controller.get(uuid)?.state === 'Complete', 30_000);
    const r = await call(stack, 'GET', '/metrics', { token: stack.token });
    assert.equal(r.status, 200);
    const exported = new Set<string>();
    for (const line of r.text.split('\n')) {
      const m = /^# TYPE (\S+) (\S+)$/.exec(line) ?? /^([a-zA-Z_:][a-zA-Z0-9_:]*)/.exec(line);
      if (m) exported.add(m[1]!);
    }
    const missing: string[] = [];
    for (const q of queries()) {
      const names = promqlMetricNames(q);
      assert.ok(names.length > 0, `no metric found in ${q}`);
      for (const n of names) if (!exported.has(n)) missing.push(`${n} (in ${q})`);
    }
    assert.deepEqual(missing, [], 'metrics the dashboard reads but /metrics lacks');
  });
});

describe('Prometheus scrape config (monitoring/prometheus.yml)', () => {
  const text = readFileSync(join(DIR, 'prometheus.yml'), 'utf8');

  it('scrapes /metrics with the ManagementToken as a bearer token read from a file', () => {
    const config = parse(text) as { scrape_configs: Array<Record<string, unknown>> };
    const job = config.scrape_configs.find((j) => j.job_name === 'arvados-dispatch-cloud');
    assert.ok(job);
    assert.equal(job.metrics_path, '/metrics');
    const auth = job.authorization as { type?: string; credentials_file?: string; credentials?: string };
    assert.equal(auth.type, 'Bearer');
    assert.ok(auth.credentials_file, 'the token in a file, not in the config');
    assert.equal(auth.credentials, undefined);
  });

  it('passes promtool check config, its token file included', function () {
    const promtool = findPromtool();
    if (!promtool) {
      console.log('      skipped: no promtool (npm pretest unpacks it when apt-get can download it)');
      this.skip();
    }
    const dir = mkdtempSync(join(tmpdir(), 'adc-prom-'));
    try {
      const token = join(dir, 'token');
      writeFileSync(token, 'x'.repeat(40));
      const config = join(dir, 'prometheus.yml');
      writeFileSync(config, text.replace(/credentials_file: \S+/, `credentials_file: ${token}`));
      const r = spawnSync(promtool!, ['check', 'config', config], { encoding: 'utf8' });
      assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
