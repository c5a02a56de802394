/**
 * Simulator workloads: the containers a simulated controller submits, and
 * when. A workload file is JSON in one of two formats (full description with
 * examples in bench/workloads/README.md).
 *
 * Trace: every container spelled out.
 *
 *     { "name": "example", "seed": 1, "containers": [
 *         { "id": "a", "at": "90s", "vcpus": 2, "ram": "4GiB", "runtime": "10m",
 *           "scratch": "10GiB", "gpus": 0, "gpuVRAM": 0, "priority": 1,
 *           "preemptible": false, "exitCode": 0 },
 *         { "at": 0, "vcpus": 1, "ram": "1GiB", "runtime": "2h", "supervisor": true,
 *           "children": [ { "at": "1m", "vcpus": 4, "ram": "8GiB", "runtime": "20m" } ] } ] }
 *
 *   Required: at, vcpus, ram, runtime (or runtimeMs). Defaults: scratch 0,
 *   gpus 0, gpuVRAM 0, priority 1, exitCode 0, preemptible and supervisor
 *   false, id "t<index>" (children "<parent>/c<index>"). Only a supervisor
 *   may have children; a child's `at` counts from its parent starting to run.
 *
 * Generator: groups of containers drawn from distributions with a seed.
 *
 *     { "name": "trickle", "seed": 7, "groups": [
 *         { "count": 500, "arrival": { "uniform": { "from": "0s", "until": "24h" } },
 *           "vcpus": { "choice": [[1, 3], [2, 2], [4, 1]] },
 *           "ram": { "perVCPU": "2GiB" },
 *           "runtime": { "lognormal": { "median": "10m", "sigma": 0.8 }, "min": "30s", "max": "4h" },
 *           "preemptible": 0.2 } ] }
 *
 *   Arrivals: {"burst": {"at"}}, {"uniform": {"from", "until"}}, {"poisson":
 *   {"perHour", "from", "until"}} (count is then random and must be left out),
 *   {"diurnal": {"from", "until", "peak", "trough", "period"}} and
 *   {"afterPrevious": {"gap"}} (once every earlier group in the same list
 *   would have finished). Distributions: a constant, {"choice": [[v, w], ...]},
 *   {"uniform": [a, b]}, {"lognormal": {"median", "sigma"}}, {"normal":
 *   {"mean", "stddev"}}, {"exponential": {"mean"}}, each with optional "min"
 *   and "max" clamps. "supervisor": {"children": [groups...]} makes the
 *   group's containers workflow runners, each with its own children drawn
 *   from those groups (times relative to the runner's start).
 *
 * Durations are ms or Go-style strings ("90s", "2h"); sizes are bytes or
 * strings with units ("4GiB"), as in the cluster config.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Random } from '../../drivers/lame/random.js';
import { parseByteSize, parseDuration } from '../config/units.js';

export interface SimContainer {
  id: string;
  /** ms after the simulation starts; for children, ms after the parent starts Running. */
  at: number;
  vcpus: number;
  /** bytes */
  ram: number;
  /** bytes */
  scratch: number;
  gpus: number;
  /** bytes per GPU */
  gpuVRAM: number;
  priority: number;
  preemptible: boolean;
  supervisor: boolean;
  runtimeMs: number;
  exitCode: number;
  children?: SimContainer[];
}

export interface Workload {
  name: string;
  seed: number;
  /** Top level, sorted by at, then id. */
  containers: SimContainer[];
}

/** A duration (ms or "10m"), a size (bytes or "4GiB") or a plain number, as the field wants. */
export type Quantity = number | string;

interface Clamp {
  min?: Quantity;
  max?: Quantity;
}

export type DistSpec =
  | Quantity
  | ({ choice: Array<[Quantity, number]> } & Clamp)
  | ({ uniform: [Quantity, Quantity] } & Clamp)
  | ({ lognormal: { median: Quantity; sigma: number } } & Clamp)
  | ({ normal: { mean: Quantity; stddev: Quantity } } & Clamp)
  | ({ exponential: { mean: Quantity } } & Clamp);

export type ArrivalSpec =
  | { burst: { at?: Quantity } }
  | { uniform: { from?: Quantity; until: Quantity } }
  | { poisson: { perHour: number; from?: Quantity; until: Quantity } }
  | { diurnal: { from?: Quantity; until: Quantity; peak?: Quantity; trough?: number; period?: Quantity } }
  | { afterPrevious: { gap?: Quantity } };

export interface GroupSpec {
  name?: string;
  description?: string;
  /** Required unless arrival is poisson; drawn once per group (per supervisor for children). */
  count?: DistSpec;
  arrival: ArrivalSpec;
  vcpus?: DistSpec;
  ram: DistSpec | { perVCPU: DistSpec };
  scratch?: DistSpec;
  gpus?: DistSpec;
  gpuVRAM?: DistSpec;
  priority?: DistSpec;
  /** Probability that a container is preemptible (true = 1). */
  preemptible?: number | boolean;
  /** Required except for supervisors, which by default run until their children would have finished, plus a minute. */
  runtime?: DistSpec;
  exitCode?: DistSpec;
  supervisor?: { children: GroupSpec[] };
}

export interface GeneratorSpec {
  name: string;
  description?: string;
  seed?: number;
  groups: GroupSpec[];
}

/** A workload file that cannot be used; the message names the JSON path. */
export class WorkloadError extends Error {
  override readonly name = 'WorkloadError';
}

/** More than this many containers in all is taken to be a mistake (a poisson rate in the wrong unit). */
const MAX_CONTAINERS = 2_000_000;

/** How long a supervisor without a runtime outlives its last child (if nothing waited). */
const SUPERVISOR_TAIL_MS = 60_000;

const HOUR = 3_600_000;

export function loadWorkload(path: string, opts: { seed?: number } = {}): Workload {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new WorkloadError(`${path}: ${(e as Error).message}`);
  }
  return parseWorkload(json, { ...opts, source: path });
}

/** A trace (has "containers") or a generator spec (has "groups"). `opts.seed` overrides the file's seed. */
export function parseWorkload(json: unknown, opts: { seed?: number; source?: string } = {}): Workload {
  try {
    if (opts.seed !== undefined) checkSeed(opts.seed, 'the seed option');
    const top = obj(json, '');
    if ('containers' in top && 'groups' in top) fail('', 'has both "containers" (a trace) and "groups" (a generator spec); use one');
    const fallbackName = opts.source ? basename(opts.source).replace(/\.json$/, '') : 'workload';
    if ('groups' in top) {
      const spec = top as unknown as GeneratorSpec;
      const seed = opts.seed ?? (spec.seed === undefined ? 0 : checkSeed(spec.seed, 'seed'));
      return generate({ ...spec, name: spec.name ?? fallbackName }, seed);
    }
    if ('containers' in top) return parseTrace(top, fallbackName, opts.seed);
    return fail('', 'expected a trace (with "containers") or a generator spec (with "groups")');
  } catch (e) {
    if (e instanceof WorkloadError && opts.source) throw new WorkloadError(`${opts.source}: ${e.message}`);
    throw e;
  }
}

export function generateWorkload(spec: GeneratorSpec, seed: number): Workload {
  return generate(spec, checkSeed(seed, 'seed'));
}

// ---------------------------------------------------------------- helpers

function fail(path: string, msg: string): never {
  throw new WorkloadError(path ? `${path}: ${msg}` : msg);
}

const join = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

function obj(v: unknown, path: string, known?: readonly string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, `must be an object, got ${JSON.stringify(v)}`);
  const o = v as Record<string, unknown>;
  if (known) {
    for (const k of Object.keys(o)) {
      if (!known.includes(k)) fail(join(path, k), `unknown key (expected one of ${known.join(', ')})`);
    }
  }
  return o;
}

function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, `must be an array, got ${JSON.stringify(v)}`);
  return v;
}

function checkSeed(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(path, 'must be an integer');
  return v;
}

/** The single key of a `{ kind: params }` object that is not a clamp. */
function kindOf(o: Record<string, unknown>, path: string, kinds: readonly string[], extra: readonly string[] = []): string {
  const ks = Object.keys(o).filter((k) => !extra.includes(k));
  for (const k of ks) if (!kinds.includes(k)) fail(join(path, k), `unknown key (expected one of ${[...kinds, ...extra].join(', ')})`);
  if (ks.length !== 1) fail(path, `must have exactly one of ${kinds.join(', ')}`);
  return ks[0];
}

type Unit = 'int' | 'number' | 'size' | 'duration';

/** What a field accepts: its unit and range. */
interface FieldRule {
  unit: Unit;
  min: number;
  max?: number;
}

const RULES = {
  count: { unit: 'int', min: 0 },
  at: { unit: 'duration', min: 0 },
  vcpus: { unit: 'int', min: 1 },
  ram: { unit: 'size', min: 1 },
  scratch: { unit: 'size', min: 0 },
  gpus: { unit: 'int', min: 0 },
  gpuVRAM: { unit: 'size', min: 0 },
  priority: { unit: 'int', min: 1, max: 1000 },
  runtime: { unit: 'duration', min: 0 },
  exitCode: { unit: 'int', min: 0, max: 255 },
} satisfies Record<string, FieldRule>;

/** A constant in the rule's unit; `range` also checks it against the rule's bounds. */
function quantity(v: unknown, path: string, rule: FieldRule, range = true): number {
  let n: number;
  if (typeof v === 'number') {
    if (!Number.isFinite(v)) fail(path, 'must be a finite number');
    n = v;
  } else if (typeof v === 'string' && (rule.unit === 'size' || rule.unit === 'duration')) {
    try {
      n = rule.unit === 'size' ? parseByteSize(v) : parseDuration(v);
    } catch (e) {
      return fail(path, (e as Error).message);
    }
  } else {
    const what = rule.unit === 'size' ? 'a size (bytes, or a string like "4GiB")' : rule.unit === 'duration' ? 'a duration (ms, or a string like "10m")' : rule.unit === 'int' ? 'a whole number' : 'a number';
    return fail(path, `must be ${what}, got ${JSON.stringify(v)}`);
  }
  if (range) {
    if (rule.unit === 'int' && !Number.isInteger(n)) fail(path, `must be a whole number, got ${n}`);
    if (n < rule.min) fail(path, `must be at least ${rule.min}, got ${n}`);
    if (rule.max !== undefined && n > rule.max) fail(path, `must be at most ${rule.max}, got ${n}`);
  }
  return n;
}

function positive(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(path, 'must be a positive number');
  return v;
}

function probability(v: unknown, path: string): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(path, 'must be a probability in [0, 1] (or true/false)');
  return v;
}

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
  let hi = rule.max ?? Infinity;
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
      const items = arr(o.choice, p);
      if (items.length === 0) fail(p, 'must list at least one [value, weight]');
      const values: number[] = [];
      const cum: number[] = [];
      let total = 0;
      items.forEach((item, i) => {
        const ip = join(p, i);
        const pair = arr(item, ip);
        if (pair.length !== 2) fail(ip, 'must be [value, weight]');
        values.push(quantity(pair[0], join(ip, 0), rule));
        total += positive(pair[1], join(ip, 1));
        cum.push(total);
      });
      return (rnd) => {
        const x = rnd.next() * total;
        const i = cum.findIndex((c) => x < c);
        return finish(values[i < 0 ? values.length - 1 : i]);
      };
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

/** Natural order ("g0-2" before "g0-10"), independent of locale. */
function compareIds(a: string, b: string): number {
  const ra = a.match(/\d+|\D+/g) ?? [];
  const rb = b.match(/\d+|\D+/g) ?? [];
  for (let i = 0; i < Math.min(ra.length, rb.length); i++) {
    const x = ra[i];
    const y = rb[i];
    if (x === y) continue;
    const dx = /^\d/.test(x);
    const dy = /^\d/.test(y);
    if (dx && dy && x.length !== y.length && !x.startsWith('0') && !y.startsWith('0')) return x.length - y.length;
    if (dx && dy && Number(x) !== Number(y)) return Number(x) - Number(y);
    return x < y ? -1 : 1;
  }
  return ra.length - rb.length || (a < b ? -1 : a > b ? 1 : 0);
}

const byAtThenId = (a: SimContainer, b: SimContainer) => a.at - b.at || compareIds(a.id, b.id);

// ---------------------------------------------------------------- trace

const CONTAINER_KEYS = ['id', 'at', 'vcpus', 'ram', 'scratch', 'gpus', 'gpuVRAM', 'priority', 'preemptible', 'supervisor', 'runtime', 'runtimeMs', 'exitCode', 'children', 'description'] as const;

function parseTrace(top: Record<string, unknown>, fallbackName: string, seedOverride?: number): Workload {
  obj(top, '', ['name', 'description', 'seed', 'containers']);
  if (top.name !== undefined && typeof top.name !== 'string') fail('name', 'must be a string');
  const seed = seedOverride ?? (top.seed === undefined ? 0 : checkSeed(top.seed, 'seed'));
  const ids = new Set<string>();
  const containers = parseTraceList(top.containers, 'containers', '', ids);
  return { name: (top.name as string | undefined) ?? fallbackName, seed, containers };
}

function parseTraceList(v: unknown, path: string, parentId: string, ids: Set<string>): SimContainer[] {
  const out = arr(v, path).map((item, i) => parseTraceContainer(item, join(path, i), parentId ? `${parentId}/c${i}` : `t${i}`, ids));
  return out.sort(byAtThenId);
}

function parseTraceContainer(v: unknown, path: string, defaultId: string, ids: Set<string>): SimContainer {
  const o = obj(v, path, CONTAINER_KEYS);
  const req = (k: string) => {
    if (o[k] === undefined) fail(join(path, k), 'required');
    return o[k];
  };
  const opt = (k: keyof typeof RULES, def: number) => (o[k] === undefined ? def : quantity(o[k], join(path, k), RULES[k]));
  const bool = (k: string) => {
    if (o[k] !== undefined && typeof o[k] !== 'boolean') fail(join(path, k), 'must be true or false');
    return o[k] === true;
  };
  if (o.id !== undefined && (typeof o.id !== 'string' || o.id === '')) fail(join(path, 'id'), 'must be a non-empty string');
  const id = (o.id as string | undefined) ?? defaultId;
  if (ids.has(id)) fail(join(path, 'id'), `duplicate id "${id}"`);
  ids.add(id);
  // Required fields in reading order, so the first error is the first missing.
  const at = quantity(req('at'), join(path, 'at'), RULES.at);
  const vcpus = quantity(req('vcpus'), join(path, 'vcpus'), RULES.vcpus);
  const ram = quantity(req('ram'), join(path, 'ram'), RULES.ram);
  if (o.runtime !== undefined && o.runtimeMs !== undefined) fail(path, 'give runtime or runtimeMs, not both');
  let runtimeMs: number;
  if (o.runtimeMs !== undefined) {
    if (typeof o.runtimeMs !== 'number') fail(join(path, 'runtimeMs'), 'must be a number of ms');
    runtimeMs = quantity(o.runtimeMs, join(path, 'runtimeMs'), RULES.runtime);
  } else {
    runtimeMs = quantity(req('runtime'), join(path, 'runtime'), RULES.runtime);
  }
  const c: SimContainer = {
    id,
    at,
    vcpus,
    ram,
    scratch: opt('scratch', 0),
    gpus: opt('gpus', 0),
    gpuVRAM: opt('gpuVRAM', 0),
    priority: opt('priority', 1),
    preemptible: bool('preemptible'),
    supervisor: bool('supervisor'),
    runtimeMs,
    exitCode: opt('exitCode', 0),
  };
  if (o.children !== undefined) {
    if (!c.supervisor) fail(join(path, 'children'), 'only a supervisor (supervisor: true) can have children');
    c.children = parseTraceList(o.children, join(path, 'children'), id, ids);
  }
  return c;
}

// ---------------------------------------------------------------- generator

const SPEC_KEYS = ['name', 'description', 'seed', 'groups'] as const;
const GROUP_KEYS = ['name', 'description', 'count', 'arrival', 'vcpus', 'ram', 'scratch', 'gpus', 'gpuVRAM', 'priority', 'preemptible', 'runtime', 'exitCode', 'supervisor'] as const;

/** Where a group's containers arrive, given the group's generator and when earlier groups end. */
type Arrivals = (rnd: Random, count: number, previousEnd: number) => number[];

interface CompiledGroup {
  path: string;
  count?: Draw;
  arrivals: Arrivals;
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
}

function compileArrival(v: unknown, path: string, first: boolean, hasCount: boolean): { arrivals: Arrivals; poisson: boolean } {
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
      const gap = time(obj(o.afterPrevious, p, ['gap']), 'gap', 0);
      return { poisson: false, arrivals: (_rnd, n, previousEnd) => new Array<number>(n).fill(previousEnd + gap) };
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
  const { arrivals, poisson } = compileArrival(o.arrival, join(path, 'arrival'), first, o.count !== undefined);
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
  return {
    path,
    count: o.count === undefined ? undefined : dist('count'),
    arrivals,
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
function runGroups(groups: CompiledGroup[], seed: number, parentId: string | undefined, budget: { left: number }): SimContainer[] {
  const out: SimContainer[] = [];
  let previousEnd = 0;
  let childIndex = 0;
  groups.forEach((g, gi) => {
    const rnd = new Random(subSeed(seed, parentId === undefined ? `g${gi}` : `${parentId}/g${gi}`));
    const count = g.count ? g.count(rnd) : 0;
    const times = g.arrivals(rnd, count, previousEnd);
    budget.left -= times.length;
    if (budget.left < 0) fail(g.path, `the workload would have more than ${MAX_CONTAINERS} containers`);
    let end = previousEnd;
    times.forEach((at, i) => {
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
      if (g.children) {
        c.children = runGroups(g.children, seed, id, budget);
        if (!g.runtime) c.runtimeMs = c.children.reduce((m, k) => Math.max(m, k.at + k.runtimeMs), 0) + SUPERVISOR_TAIL_MS;
      }
      end = Math.max(end, c.at + c.runtimeMs);
      out.push(c);
    });
    previousEnd = end;
  });
  return out.sort(byAtThenId);
}

function generate(spec: GeneratorSpec, seed: number): Workload {
  const o = obj(spec, '', SPEC_KEYS);
  if (typeof o.name !== 'string' || o.name === '') fail('name', 'must be a non-empty string');
  if (o.seed !== undefined) checkSeed(o.seed, 'seed');
  const groups = compileGroups(o.groups, 'groups');
  const containers = runGroups(groups, seed, undefined, { left: MAX_CONTAINERS });
  return { name: o.name, seed, containers };
}
