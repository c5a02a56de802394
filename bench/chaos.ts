/**
 * The chaos run in simulated time (`src/sim/chaos.ts`): by default 10,000
 * containers over a simulated day with the cloud, the controller and the
 * dispatcher failing throughout. Prints the figures and every invariant
 * violated; exits 1 when any was.
 *
 *   npm run bench:chaos
 *   node --import tsx bench/chaos.ts [--containers N] [--span 24h] [--seed N]
 *       [--max-instances N] [--quota N] [--restarts N] [--fault Name=value ...] [--repeat]
 *       [--priorities 2.6|2.7] [--settings FILE]
 *
 * `--fault` sets a lame DriverParameter over the scenario's (`--fault
 * ReclaimRate=0.2 --fault DestroyDelay=5m`; numbers are numbers, the rest
 * strings). `--repeat` runs the same seed a second time and checks that its digest is
 * the same. `--priorities 2.7` has the controller state container priorities
 * as Arvados 2.7 and later do (request priority x 2^50 less its creation
 * time in ms) instead of the request's own. `--settings` gives the simulated
 * daemon its own settings file (e.g. `StartBreaker: {Enable: false}` with
 * `--fault RefuseStartsFrom=6h --fault RefuseStartsUntil=7h`, a spell of
 * failing starts, to see what the start breaker saves). Re-executes itself with --expose-gc (heap figures after gc)
 * unless that is already on.
 */
import { parseArgs } from 'node:util';
import { loadSettingsFile } from '../src/config/settings.js';
import { parseDuration } from '../src/config/units.js';
import { runChaos, type ChaosOptions } from '../src/sim/chaos.js';
import { formatChaosFigures } from '../src/sim/chaos-format.js';
import { formatDuration } from '../src/sim/summary.js';
import { exposedGc } from './gc.js';

const gc = exposedGc(import.meta.url);

const { values } = parseArgs({
  options: {
    containers: { type: 'string', default: '10000' },
    span: { type: 'string', default: '24h' },
    seed: { type: 'string', default: '20261204' },
    'max-instances': { type: 'string', default: '200' },
    quota: { type: 'string', default: '180' },
    restarts: { type: 'string', default: '5' },
    repeat: { type: 'boolean', default: false },
    fault: { type: 'string', multiple: true, default: [] },
    priorities: { type: 'string', default: '2.6' },
    settings: { type: 'string' },
  },
});

const int = (name: string, v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`--${name}: expected a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
};

const faults: Record<string, unknown> = {};
for (const kv of values.fault) {
  const eq = kv.indexOf('=');
  if (eq <= 0) throw new Error(`--fault: expected Name=value, got ${JSON.stringify(kv)}`);
  const v = kv.slice(eq + 1);
  faults[kv.slice(0, eq)] = v !== '' && Number.isFinite(Number(v)) ? Number(v) : v;
}

if (values.priorities !== '2.6' && values.priorities !== '2.7') throw new Error(`--priorities: 2.6 or 2.7, got ${JSON.stringify(values.priorities)}`);

const opts: ChaosOptions = {
  faults,
  ...(values.settings ? { settings: loadSettingsFile(values.settings, { explicit: true }).settings } : {}),
  priorities: values.priorities,
  containers: int('containers', values.containers),
  spanMs: parseDuration(values.span),
  seed: int('seed', values.seed),
  maxInstances: int('max-instances', values['max-instances']),
  quota: int('quota', values.quota),
  restarts: int('restarts', values.restarts),
  heapProbe: () => {
    gc();
    return process.memoryUsage().heapUsed;
  },
  onProgress: (p) => process.stderr.write(`  ${formatDuration(p.simMs)}: ${p.submitted} submitted, ${p.final} final, ${p.vms} VMs\n`),
};

console.log(
  `chaos: ${opts.containers} containers over ${formatDuration(opts.spanMs)}, seed ${opts.seed}, MaxInstances ${opts.maxInstances}, quota ${opts.quota}, ${opts.restarts} restarts` +
    `${values.fault.length ? `, faults ${JSON.stringify(faults)}` : ''}${values.priorities === '2.7' ? ', Arvados 2.7+ priorities' : ''}${values.settings ? `, settings ${values.settings}` : ''} (node ${process.version})`,
);
const first = await runChaos(opts);
console.log(formatChaosFigures(first.figures));
let failed = first.problems.length > 0;
if (failed) console.log(`PROBLEMS (${first.problems.length}):\n${first.problems.map((p) => `  ${p}`).join('\n')}`);
else console.log('invariants: 0 lost, 0 double runs, 0 VMs left, limits kept');
if (values.repeat) {
  const again = await runChaos({ ...opts, heapProbe: undefined, onProgress: undefined });
  const same = again.figures.digest === first.figures.digest;
  console.log(`repeat with seed ${opts.seed}: digest ${again.figures.digest} (${same ? 'same' : 'DIFFERENT'}), ${(again.figures.host.wallMs / 1000).toFixed(1)} s wall`);
  failed ||= !same;
}
process.exit(failed ? 1 : 0);
