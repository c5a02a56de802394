/**
 * Fuzzed settings files (this daemon's own `dispatch-cloud.yml`): mutations
 * of the example file with every feature switched on, and of the bench's
 * settings files, made by `config-mutations.ts` (values of the wrong type,
 * bad units, negative and huge numbers, maps where scalars are and the
 * reverse, renamed, added and deleted keys, duplicate keys, tabs, anchors,
 * truncated text).
 *
 * Properties, for every mutation:
 * - reading it either gives settings or throws a ConfigError whose every
 *   line starts with the file's name; never another error, and no warning
 *   from the YAML library on stderr;
 * - settings that are accepted run: a small simulated workload (images and
 *   inputs, two owners, spot containers, a runner whose stages wait for one
 *   another) goes through the dispatcher with them without any internal
 *   error (a failed scheduling pass, a JavaScript error in the log).
 *
 * `npm test` runs a few dozen cases; the full count:
 *   FUZZ_RUNS=10000 npx mocha --timeout 0 test/fuzz/settings.test.ts   (or `npm run fuzz`)
 * and FUZZ_SEED=<seed> repeats a failing run.
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { parseDocument } from 'yaml';
import { loadConfigFile } from '../../src/config/index.js';
import { ConfigError } from '../../src/config/load.js';
import { loadSettingsText, type Settings } from '../../src/config/settings.js';
import { assertLineHoldsKey } from './located.js';
import { runSimulation } from '../../src/sim/engine.js';
import { parseWorkload } from '../../src/sim/workload.js';
import { applyMutation, type BaseConfig, baseConfig, type Mutation, mutationArb } from './config-mutations.js';
import { fuzzParams, fuzzTimeout } from './runs.js';
import { simLog } from './sim-log.js';

const QUICK_READS = 200;
const QUICK_RUNS = 40;
const REPO = fileURLToPath(new URL('../../', import.meta.url));
const SOURCE = 'fuzz-settings.yml';

/** The example with every feature on, a warm pool, billing rules and a spending cap: every code path the settings reach. */
function allOn(): string {
  const doc = parseDocument(readFileSync(`${REPO}dispatch-cloud.example.yml`, 'utf8').replace(/Enable: false/g, 'Enable: true'));
  doc.setIn(['SchedulingStatus', 'AppendEstimate'], true);
  doc.setIn(['WarmPools', 'Pools'], doc.createNode([{ InstanceType: 'c5.large', Min: 1, Schedule: { Days: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'], From: '00:00', Until: '12:00', TimeZone: 'UTC' } }]));
  doc.setIn(['WarmPools', 'BusyFraction'], 0.2);
  doc.setIn(['Billing', 'InstanceTypes'], doc.createNode({ 'm5.xlarge': { Increment: '1h', Minimum: '1h' }, '*': { Increment: '1s', Minimum: '1m' } }));
  doc.setIn(['Billing', 'StretchIdle'], true);
  doc.setIn(['Reclaims', 'AvoidReclaimedTypes'], true);
  doc.setIn(['Reclaims', 'OnDemandAfter'], 1);
  return doc.toString();
}

/** The bench's locality cluster (its types are those the bench's settings name), at most 30 VMs. */
function cluster() {
  const { cluster: c } = loadConfigFile(`${REPO}bench/sim-config-locality.yml`);
  c.Containers.CloudVMs.MaxInstances = 30;
  return c;
}

/** Two owners, images and inputs, spot containers, and a runner whose later stages wait for the earlier ones. */
const WORKLOAD = parseWorkload({
  name: 'settings-fuzz',
  seed: 3,
  containers: [
    ...Array.from({ length: 8 }, (_, i) => ({
      id: `j${i}`,
      at: `${i * 3}m`,
      vcpus: 1 + (i % 3),
      ram: '2GiB',
      runtime: `${5 + i}m`,
      owner: i % 2 ? 'zzzzz-tpzed-000000000000001' : 'zzzzz-tpzed-000000000000002',
      image: `img-${i % 3}`,
      imageSize: '2GiB',
      inputs: [{ pdh: `in-${i % 2}`, size: '1GiB' }],
      preemptible: i % 4 === 0,
    })),
    {
      id: 'wf',
      at: '5m',
      vcpus: 1,
      ram: '1GiB',
      runtime: '5m',
      supervisor: true,
      image: 'wf-img',
      imageSize: '1GiB',
      children: [
        { id: 'a', at: '30s', vcpus: 2, ram: '4GiB', runtime: '8m' },
        { id: 'b', at: '30s', vcpus: 2, ram: '4GiB', runtime: '6m' },
        { id: 'm', at: '30s', vcpus: 4, ram: '8GiB', runtime: '4m', after: ['a', 'b'] },
      ],
    },
  ],
});


function read(m: Mutation): { text: string; settings?: Settings } {
  const text = applyMutation(m);
  try {
    return { text, settings: loadSettingsText(text, SOURCE).settings };
  } catch (err) {
    assert.ok(err instanceof ConfigError, `reading threw ${(err as Error)?.stack ?? String(err)}\n--- file:\n${text.slice(0, 2000)}`);
    for (const line of [...err.errors, ...err.warnings]) {
      assert.ok(line.startsWith(`${SOURCE}:`), `a problem not naming the file: ${line}\n--- file:\n${text.slice(0, 2000)}`);
      const at = /^line (\d+): /.exec(line.slice(SOURCE.length + 2));
      if (at) assertLineHoldsKey(text, Number(at[1]), line.slice(SOURCE.length + 2 + at[0].length), `--- file:\n${text.slice(0, 2000)}`);
    }
    return { text };
  }
}

/**
 * Runs the workload with `settings`: 'ran', or 'refused' when the dispatcher
 * refuses settings that do not fit the cluster, saying which. Fails on an
 * internal error in the log.
 */
async function run(text: string, settings: Settings): Promise<'ran' | 'refused'> {
  const log = simLog();
  let res;
  try {
    res = await runSimulation({ cluster: cluster(), workload: WORKLOAD, settings, limitMs: 3 * 3_600_000, log: { stream: log.stream, level: 'warn' } });
  } catch (err) {
    // Settings that do not fit the cluster (a warm pool of a type it lacks) are refused, saying which.
    assert.match(String((err as Error)?.message), /^settings: [A-Z]\w*\.\S+: \S/, `${(err as Error)?.stack}\nsettings:\n${text.slice(0, 3000)}`);
    return 'refused';
  }
  assert.deepEqual(log.internalErrors().slice(0, 3), [], `settings:\n${text.slice(0, 3000)}`);
  assert.ok(res.containers.length > 0);
  return 'ran';
}

describe('fuzzed settings files', function () {
  this.timeout(fuzzTimeout(QUICK_READS, 60_000));
  let bases: BaseConfig[];

  before(() => {
    const dir = `${REPO}bench/settings/`;
    bases = [baseConfig('all-on', allOn()), ...readdirSync(dir).filter((f) => f.endsWith('.yml')).map((f) => baseConfig(f, readFileSync(dir + f, 'utf8')))];
  });

  it('reads every base as it is', () => {
    for (const b of bases) assert.ok(loadSettingsText(b.text, b.name).settings, b.name);
  });

  it('either reads settings or throws a ConfigError naming the file in every line, and nothing else, not even a warning on stderr', async () => {
    let accepted = 0;
    let refused = 0;
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(w.message);
    process.on('warning', onWarning);
    try {
      fc.assert(
        fc.property(mutationArb(bases, () => true), (m) => {
          if (read(m).settings) accepted++;
          else refused++;
        }),
        fuzzParams(QUICK_READS),
      );
      // Process warnings are emitted on the next tick.
      await new Promise((resolve) => setImmediate(resolve));
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(warnings.slice(0, 3), []);
    assert.ok(accepted > 0 && refused > 0, `accepted ${accepted}, refused ${refused}`);
  });

  it('runs the workload with each base as it is, without an internal error', async function () {
    this.timeout(120_000);
    for (const b of bases) assert.equal(await run(b.text, loadSettingsText(b.text, b.name).settings), 'ran', b.name);
  });

  it('runs the workload with any settings it accepts after one edit, without an internal error', async function () {
    this.timeout(fuzzTimeout(QUICK_RUNS, 120_000, 20));
    let ran = 0;
    // One edit of the tree: most such files are still accepted, so most cases run.
    const oneEdit = mutationArb(bases, () => true).filter((m) => m.tree.length === 1 && m.text.length === 0);
    await fc.assert(
      fc.asyncProperty(oneEdit, async (m) => {
        const { text, settings } = read(m);
        if (settings && (await run(text, settings)) === 'ran') ran++;
      }),
      fuzzParams(QUICK_RUNS, 20),
    );
    assert.ok(ran > 0, 'no mutation was accepted, so nothing ran');
    if (process.env.FUZZ_VERBOSE) console.log('ran', ran);
  });
});
