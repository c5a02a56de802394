import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { SimReport } from '../../src/sim/report.js';
import { simConfigText, TRACE } from './helpers.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['scripts/from-sources.mjs', ...args], { cwd: REPO }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

describe('arvados-dispatch-cloud simulate', function () {
  this.timeout(60_000);

  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'simulate-'));
    writeFileSync(join(dir, 'config.yml'), simConfigText());
    writeFileSync(join(dir, 'workload.json'), JSON.stringify(TRACE));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('runs a workload, prints a summary and writes the report, the plot and the log', async () => {
    const files = { report: join(dir, 'report.json'), plot: join(dir, 'plot.svg'), log: join(dir, 'sim.log') };
    const r = await run([
      '--config', join(dir, 'config.yml'),
      'simulate',
      '--workload', join(dir, 'workload.json'),
      '--report', files.report,
      '--plot', files.plot,
      '--log', files.log,
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /Simulated "engine-test" \(seed 11\): 11 containers/);
    assert.match(r.stdout, /Containers: 11 complete \(1 with a nonzero exit\), 0 cancelled/);
    assert.match(r.stdout, /Cost: \$\d+\.\d\d; lower bound \$\d+\.\d\d \(cost\/bound \d\.\d{3}\)/);
    assert.match(r.stdout, /Cloud API calls: create \d+, list \d+, destroy \d+, setTags 0\./);
    const report = JSON.parse(readFileSync(files.report, 'utf8')) as SimReport;
    assert.equal(report.finished, true);
    assert.equal(report.containers.complete, 11);
    assert.ok(report.cost.total >= report.cost.lowerBound && report.cost.lowerBound > 0);
    assert.ok(report.timeline.length > 0);
    const svg = readFileSync(files.plot, 'utf8');
    assert.match(svg, /^<svg [^>]*xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
    assert.match(svg, /<\/svg>\s*$/);
    // The dispatcher logs JSON lines in simulated time, at warn and above.
    const lines = readFileSync(files.log, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { level: string; time: string });
    assert.ok(lines.length > 0);
    for (const l of lines) {
      assert.ok(['warning', 'error'].includes(l.level), l.level);
      assert.match(l.time, /^2026-01-01T/);
    }
  });

  it('gives the same report for the same --seed', async () => {
    const reports = [];
    for (const name of ['a.json', 'b.json']) {
      const r = await run(['--config', join(dir, 'config.yml'), 'simulate', '--workload', join(dir, 'workload.json'), '--seed', '5', '--report', join(dir, name), '--log', join(dir, 'x.log')]);
      assert.equal(r.code, 0, r.stderr);
      const { host: _host, ...rest } = JSON.parse(readFileSync(join(dir, name), 'utf8')) as SimReport;
      assert.equal(rest.workload.seed, 5);
      reports.push(JSON.stringify(rest));
    }
    assert.equal(reports[0], reports[1]);
  });

  it('exits 1 when the simulated-time limit comes first, and 2 on a bad workload', async () => {
    const short = await run(['--config', join(dir, 'config.yml'), 'simulate', '--workload', join(dir, 'workload.json'), '--limit', '3m', '--log', join(dir, 'y.log')]);
    assert.equal(short.code, 1);
    assert.match(short.stdout, /NOT FINISHED/);
    const bad = await run(['--config', join(dir, 'config.yml'), 'simulate', '--workload', join(dir, 'missing.json')]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /missing\.json/);
  });

  it('exits 2 with one line, before it runs anything, when the log, the report or the plot cannot be written', async () => {
    const nowhere = join(dir, 'no-such-dir');
    for (const [flag, what] of [['--log', 'log file'], ['--report', 'report file'], ['--plot', 'plot file']]) {
      const path = join(nowhere, `out${flag}`);
      const r = await run(['--config', join(dir, 'config.yml'), 'simulate', '--workload', join(dir, 'workload.json'), flag, path]);
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.equal(r.stderr, `simulate: cannot write the ${what} ${path} (ENOENT)\n`);
      assert.doesNotMatch(r.stdout, /Simulating/);
    }
  });

  it('runs the dispatcher with the settings file named by --settings, and exits 2 on a bad one', async () => {
    const good = join(dir, 'settings.yml');
    writeFileSync(good, 'Estimates:\n  DefaultRuntime: 7m\n');
    const report = join(dir, 'with-settings.json');
    const r = await run(['--config', join(dir, 'config.yml'), '--settings', good, 'simulate', '--workload', join(dir, 'workload.json'), '--report', report, '--log', join(dir, 'z.log')]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /with settings .*settings\.yml/);
    const rep = JSON.parse(readFileSync(report, 'utf8')) as SimReport;
    assert.equal(rep.settings.Estimates.DefaultRuntime, 7 * 60_000);
    // A simulated dispatcher never runs the suggester, whatever the file says.
    assert.equal(rep.settings.Suggestions.Enable, false);

    const bad = join(dir, 'bad-settings.yml');
    writeFileSync(bad, 'Estimates:\n  DefaultRuntme: 7m\n');
    const b = await run(['--config', join(dir, 'config.yml'), '--settings', bad, 'simulate', '--workload', join(dir, 'workload.json')]);
    assert.equal(b.code, 2);
    assert.match(b.stderr, /bad-settings\.yml: line 2: Estimates\.DefaultRuntme: unknown key \(did you mean DefaultRuntime\?\)/);
  });
});
