/**
 * The workload generator: compiles a generator spec (see `workload.ts`)
 * into draw functions, validating it whole first, then draws the containers
 * group by group, each group from its own seeded stream.
 */
import { Random } from '../../drivers/lame/random.js';
import type { GeneratorSpec, SimContainer, Workload } from './workload.js';
import { compileLocality, type LocalityDraw } from './workload-locality.js';
import { arr, byAtThenId, checkSeed, countMax, fail, type FieldRule, idealStarts, join, kindOf, obj, positive, probability, quantity, RULES, ruleMax, weightedChoice } from './workload-fields.js';

/** More than this many containers in all is taken to be a mistake (a poisson rate in the wrong unit). */
const MAX_CONTAINERS = 2_000_000;

/** How long a supervisor without a runtime outlives its last child (if nothing waited). */
const SUPERVISOR_TAIL_MS = 60_000;

const HOUR = 3_600_000;

/** Draw N(0, 1) by Box-Muller; always two draws so the stream does not depend on the values. */
function normal01(rnd: Random): number {
  const u = 1 - rnd.next(); // (0, 1]: log(0) would be -Infinity
  const v = rnd.next();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
}

/** Exponential with the given mean. */
function exponential(rnd: Random, mean: number): number {
  return -Math.log(1 - rnd.next()) * mean;
}

type Draw = (rnd: Random) => number;

/** Compiles a distribution spec for a field into a draw function; validates everything up front. */
function compileDist(spec: unknown, path: string, rule: FieldRule): Draw {
  if (typeof spec === 'number' || typeof spec === 'string') {
    const c = quantity(spec, path, rule);
    return () => c;
  }
  const o = obj(spec, path);
  const kind = kindOf(o, path, ['choice', 'uniform', 'lognormal', 'normal', 'exponential'], ['min', 'max']);
  const p = join(path, kind);
  // Bounds: the field's range narrowed by the clamps.
  let lo = rule.min;
  let hi = ruleMax(rule);
  if (o.min !== undefined) lo = Math.max(lo, quantity(o.min, join(path, 'min'), rule));
  if (o.max !== undefined) hi = Math.min(hi, quantity(o.max, join(path, 'max'), rule));
  if (lo > hi) fail(path, `min ${lo} is above max ${hi}`);
  const finish = (x: number) => {
    const r = rule.unit === 'number' ? x : Math.round(x);
    return Math.min(hi, Math.max(lo, r));
  };
  const param = (v: unknown, key: string) => quantity(v, join(p, key), { unit: rule.unit === 'int' ? 'number' : rule.unit, min: -Infinity }, false);
  switch (kind) {
    case 'choice': {
      const pick = weightedChoice(o.choice, p, (v, path) => quantity(v, path, rule));
      return (rnd) => finish(pick(rnd));
    }
    case 'uniform': {
      const ab = arr(o.uniform, p);
      if (ab.length !== 2) fail(p, 'must be [low, high]');
      const a = quantity(ab[0], join(p, 0), rule);
      const b = quantity(ab[1], join(p, 1), rule);
      if (a > b) fail(p, `low ${a} is above high ${b}`);
      // Whole numbers: every value in [a, b] equally likely, ends included.
      if (rule.unit === 'int') return (rnd) => finish(Math.min(b, a + Math.floor(rnd.next() * (b - a + 1))));
      return (rnd) => finish(a + rnd.next() * (b - a));
    }
    case 'lognormal': {
      const q = obj(o.lognormal, p, ['median', 'sigma']);
      const median = param(q.median, 'median');
      if (!(median > 0)) fail(join(p, 'median'), 'must be positive');
      const mu = Math.log(median);
      const sigma = positive(q.sigma, join(p, 'sigma'));
      return (rnd) => finish(Math.exp(mu + sigma * normal01(rnd)));
    }
    case 'normal': {
      const q = obj(o.normal, p, ['mean', 'stddev']);
      const mean = param(q.mean, 'mean');
      const sd = param(q.stddev, 'stddev');
      if (!(sd > 0)) fail(join(p, 'stddev'), 'must be positive');
      return (rnd) => finish(mean + sd * normal01(rnd));
    }
    default: {
      const q = obj(o.exponential, p, ['mean']);
      const mean = param(q.mean, 'mean');
      if (!(mean > 0)) fail(join(p, 'mean'), 'must be positive');
      return (rnd) => finish(exponential(rnd, mean));
    }
  }
}

const SPEC_KEYS = ['name', 'description', 'seed', 'groups', 'containerCountMax'] as const;
const GROUP_KEYS = ['name', 'description', 'count', 'arrival', 'vcpus', 'ram', 'scratch', 'gpus', 'gpuVRAM', 'priority', 'preemptible', 'runtime', 'exitCode', 'supervisor', 'owner', 'image', 'inputs'] as const;

/** Where a group's containers arrive, given the group's generator and when earlier groups end. */
type Arrivals = (rnd: Random, count: number, previousEnd: number) => number[];

interface CompiledGroup {
  path: string;
  name?: string;
  count?: Draw;
  arrivals: Arrivals;
  /** `afterPrevious` with `onEnd`: submitted this long after every earlier group's containers have ended. */
  onEndGap?: number;
  vcpus: Draw;
  ram: Draw;
  ramPerVCPU: boolean;
  scratch: Draw;
  gpus: Draw;
  gpuVRAM: Draw;
  priority: Draw;
  preemptible: number;
  runtime?: Draw;
  exitCode: Draw;
  children?: CompiledGroup[];
  owner?: string;
  locality: LocalityDraw;
}

function compileArrival(v: unknown, path: string, first: boolean, hasCount: boolean): { arrivals: Arrivals; poisson: boolean; onEndGap?: number } {
  const o = obj(v, path);
  const kind = kindOf(o, path, ['burst', 'uniform', 'poisson', 'diurnal', 'afterPrevious']);
  const p = join(path, kind);
  const time = (q: Record<string, unknown>, key: string, def?: number) => {
    if (q[key] === undefined) return def ?? fail(join(p, key), 'required');
    return quantity(q[key], join(p, key), RULES.at);
  };
  const window = (q: Record<string, unknown>) => {
    const from = time(q, 'from', 0);
    const until = time(q, 'until');
    if (until <= from) fail(join(p, 'until'), `must be after from (${from} ms)`);
    return [from, until];
  };
  switch (kind) {
    case 'burst': {
      const at = time(obj(o.burst, p, ['at']), 'at', 0);
      return { poisson: false, arrivals: (_rnd, n) => new Array<number>(n).fill(at) };
    }
    case 'uniform': {
      const [from, until] = window(obj(o.uniform, p, ['from', 'until']));
      return { poisson: false, arrivals: (rnd, n) => Array.from({ length: n }, () => Math.round(from + rnd.next() * (until - from))) };
    }
    case 'poisson': {
      const q = obj(o.poisson, p, ['perHour', 'from', 'until']);
      const perHour = positive(q.perHour, join(p, 'perHour'));
      const [from, until] = window(q);
      if (hasCount) fail(join(path, 'poisson'), 'the count of a poisson arrival follows from perHour; leave "count" out');
      if ((perHour * (until - from)) / HOUR > MAX_CONTAINERS) fail(join(p, 'perHour'), `would make more than ${MAX_CONTAINERS} containers`);
      const mean = HOUR / perHour;
      return {
        poisson: true,
        arrivals: (rnd) => {
          const out: number[] = [];
          for (let t = from + exponential(rnd, mean); t < until; t += exponential(rnd, mean)) out.push(Math.round(t));
          return out;
        },
      };
    }
    case 'diurnal': {
      const q = obj(o.diurnal, p, ['from', 'until', 'peak', 'trough', 'period']);
      const [from, until] = window(q);
      const peak = time(q, 'peak', 14 * HOUR);
      const period = q.period === undefined ? 24 * HOUR : quantity(q.period, join(p, 'period'), { unit: 'duration', min: 1 });
      // Above 0 so rejection sampling cannot spin on a window where the rate is nil.
      if (q.trough !== undefined && (typeof q.trough !== 'number' || !(q.trough > 0 && q.trough <= 1))) fail(join(p, 'trough'), 'must be a number in (0, 1]');
      const trough = (q.trough as number | undefined) ?? 0.2;
      // Rate relative to the peak's: 1 at the peak, `trough` half a period away, cosine between.
      const rate = (t: number) => trough + ((1 - trough) * (1 + Math.cos((2 * Math.PI * (t - peak)) / period))) / 2;
      return {
        poisson: false,
        arrivals: (rnd, n) =>
          Array.from({ length: n }, () => {
            // Rejection sampling: accepts at least `trough` of the draws.
            for (;;) {
              const t = from + rnd.next() * (until - from);
              if (rnd.next() < rate(t)) return Math.round(t);
            }
          }),
      };
    }
    default: {
      if (first) fail(join(path, 'afterPrevious'), 'the first group has no previous group');
      const q = obj(o.afterPrevious, p, ['gap', 'onEnd']);
      const gap = time(q, 'gap', 0);
      if (q.onEnd !== undefined && typeof q.onEnd !== 'boolean') fail(join(p, 'onEnd'), 'must be true or false');
      // The ideal times either way; with onEnd the children also wait for the earlier groups to end.
      return { poisson: false, arrivals: (_rnd, n, previousEnd) => new Array<number>(n).fill(previousEnd + gap), ...(q.onEnd === true ? { onEndGap: gap } : {}) };
    }
  }
}

function compileGroups(v: unknown, path: string): CompiledGroup[] {
  const groups = arr(v, path);
  if (groups.length === 0) fail(path, 'must list at least one group');
  return groups.map((g, i) => compileGroup(g, join(path, i), i === 0));
}

function compileGroup(v: unknown, path: string, first: boolean): CompiledGroup {
  const o = obj(v, path, GROUP_KEYS);
  if (o.name !== undefined && typeof o.name !== 'string') fail(join(path, 'name'), 'must be a string');
  if (o.arrival === undefined) fail(join(path, 'arrival'), 'required');
  const { arrivals, poisson, onEndGap } = compileArrival(o.arrival, join(path, 'arrival'), first, o.count !== undefined);
  if (!poisson && o.count === undefined) fail(join(path, 'count'), 'required (except with a poisson arrival)');
  const dist = (k: keyof typeof RULES, def?: number): Draw => {
    if (o[k] === undefined) {
      if (def === undefined) fail(join(path, k), 'required');
      return () => def;
    }
    return compileDist(o[k], join(path, k), RULES[k]);
  };
  if (o.ram === undefined) fail(join(path, 'ram'), 'required');
  const ramPerVCPU = typeof o.ram === 'object' && o.ram !== null && 'perVCPU' in o.ram;
  const ram = ramPerVCPU ? compileDist(obj(o.ram, join(path, 'ram'), ['perVCPU']).perVCPU, join(path, 'ram.perVCPU'), RULES.ram) : dist('ram');
  let children: CompiledGroup[] | undefined;
  if (o.supervisor !== undefined) {
    const s = obj(o.supervisor, join(path, 'supervisor'), ['children']);
    children = compileGroups(s.children, join(path, 'supervisor.children'));
  }
  if (o.runtime === undefined && !children) fail(join(path, 'runtime'), 'required (except for supervisors)');
  if (o.owner !== undefined && (typeof o.owner !== 'string' || o.owner === '')) fail(join(path, 'owner'), 'must be a non-empty string');
  return {
    path,
    ...(o.name === undefined ? {} : { name: o.name as string }),
    count: o.count === undefined ? undefined : dist('count'),
    arrivals,
    ...(onEndGap === undefined ? {} : { onEndGap }),
    vcpus: dist('vcpus', 1),
    ram,
    ramPerVCPU,
    scratch: dist('scratch', 0),
    gpus: dist('gpus', 0),
    gpuVRAM: dist('gpuVRAM', 0),
    priority: dist('priority', 1),
    preemptible: o.preemptible === undefined ? 0 : probability(o.preemptible, join(path, 'preemptible')),
    runtime: o.runtime === undefined ? undefined : dist('runtime'),
    exitCode: dist('exitCode', 0),
    children,
    ...(o.owner === undefined ? {} : { owner: o.owner as string }),
    locality: compileLocality(o, path),
  };
}

/** A 32-bit seed for one group's generator, from the workload seed and where the group is (FNV-1a). */
function subSeed(seed: number, key: string): number {
  let h = 0x811c9dc5;
  for (const ch of `${seed}|${key}`) {
    h ^= ch.charCodeAt(0);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/**
 * Draws the containers of a list of groups. Each group (and each
 * supervisor's children) has its own generator, seeded from the workload
 * seed and its id, so editing one group does not reshuffle the others.
 */
function runGroups(groups: CompiledGroup[], seed: number, parentId: string | undefined, budget: { left: number }, parentOwner?: string, parent?: SimContainer): SimContainer[] {
  const out: SimContainer[] = [];
  let previousEnd = 0;
  let childIndex = 0;
  // The ids of the earlier groups' containers, for a group that waits for them to end.
  const earlier: string[] = [];
  groups.forEach((g, gi) => {
    const rnd = new Random(subSeed(seed, parentId === undefined ? `g${gi}` : `${parentId}/g${gi}`));
    const count = g.count ? g.count(rnd) : 0;
    // Checked before the draw too: a count in the billions would not even fit an array.
    if (count > budget.left) fail(g.path, `the workload would have more than ${MAX_CONTAINERS} containers`);
    const times = g.arrivals(rnd, count, previousEnd);
    budget.left -= times.length;
    if (budget.left < 0) fail(g.path, `the workload would have more than ${MAX_CONTAINERS} containers`);
    let end = previousEnd;
    const after = g.onEndGap === undefined ? undefined : [...earlier];
    times.forEach((idealAt, i) => {
      const at = g.onEndGap ?? idealAt;
      const id = parentId === undefined ? `g${gi}-${i}` : `${parentId}/c${childIndex++}`;
      const vcpus = g.vcpus(rnd);
      const c: SimContainer = {
        id,
        at,
        vcpus,
        ram: g.ramPerVCPU ? g.ram(rnd) * vcpus : g.ram(rnd),
        scratch: g.scratch(rnd),
        gpus: g.gpus(rnd),
        gpuVRAM: g.gpuVRAM(rnd),
        priority: g.priority(rnd),
        preemptible: rnd.chance(g.preemptible),
        supervisor: g.children !== undefined,
        runtimeMs: g.runtime ? g.runtime(rnd) : 0,
        exitCode: g.exitCode(rnd),
      };
      if (after && after.length > 0) c.after = after;
      if (parentId !== undefined && g.name !== undefined) c.stage = g.name;
      const owner = g.owner ?? parentOwner;
      if (owner !== undefined) c.owner = owner;
      // Drawn last, so that groups without these fields draw as before.
      Object.assign(c, g.locality(rnd, parent));
      if (g.children) {
        c.children = runGroups(g.children, seed, id, budget, owner, c);
        if (!g.runtime) {
          const starts = idealStarts(c.children, (k) => k.runtimeMs);
          c.runtimeMs = c.children.reduce((m, k) => Math.max(m, starts.get(k.id)! + k.runtimeMs), 0) + SUPERVISOR_TAIL_MS;
        }
      }
      end = Math.max(end, idealAt + c.runtimeMs);
      out.push(c);
      earlier.push(id);
    });
    previousEnd = end;
  });
  return out.sort(byAtThenId);
}

/** The workload a generator spec describes, drawn with `seed`; throws WorkloadError naming the first bad field. */
export function generate(spec: GeneratorSpec, seed: number): Workload {
  const o = obj(spec, '', SPEC_KEYS);
  if (typeof o.name !== 'string' || o.name === '') fail('name', 'must be a non-empty string');
  if (o.seed !== undefined) checkSeed(o.seed, 'seed');
  const groups = compileGroups(o.groups, 'groups');
  const containers = runGroups(groups, seed, undefined, { left: MAX_CONTAINERS });
  return { name: o.name, seed, containers, ...countMax(o) };
}
