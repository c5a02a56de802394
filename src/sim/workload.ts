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
 *   may have children; a child's `at` counts from its parent starting to run,
 *   or, with "after": [sibling ids], from the last of those siblings ending
 *   (it is never submitted if one of them fails: a workflow step whose
 *   inputs were not made).
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
 *   {"afterPrevious": {"gap", "onEnd"}} (once every earlier group in the same
 *   list would have finished; with onEnd, once they have: the children wait
 *   "after" all of them). Distributions: a constant, {"choice": [[v, w], ...]},
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
import { generate } from './workload-generator.js';
import { parseInputs, type SimImage, type SimInput, traceImage } from './workload-locality.js';
import { arr, byAtThenId, checkSeed, countMax, dependencyOrder, fail, join, obj, quantity, RULES, WorkloadError } from './workload-fields.js';

export { idealStarts, WorkloadError } from './workload-fields.js';

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
  /**
   * Sibling ids (children of the same runner) that must all be final before
   * this child is submitted; `at` then counts from the last of them ending.
   * If one of them did not complete with exit code 0, it is never submitted.
   */
  after?: string[];
  /** For a generated child, the `name` of its group: the report gives the children's waits by stage. */
  stage?: string;
  /** Who submitted it (the owner of its container request); children are submitted by their runner whatever this says. */
  owner?: string;
  /** The container's image and input collections (`workload-locality.ts`); none by default. */
  image?: SimImage;
  inputs?: SimInput[];
}

export interface Workload {
  name: string;
  seed: number;
  /** Top level, sorted by at, then id. */
  containers: SimContainer[];
  /**
   * Each container request's `container_count_max`: a container the
   * dispatcher cancels (its VM reclaimed, say) is retried by the controller
   * as a new container of the same request, up to this many containers in
   * all (Arvados's default is 3). Absent: 1, no retry, as the simulator did
   * before it modelled retries. Runners and their children are not retried.
   */
  containerCountMax?: number;
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
  | { afterPrevious: { gap?: Quantity; onEnd?: boolean } };

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
  /** Who submits the group's containers; children groups inherit their runner's. */
  owner?: string;
  /** `{"id", "size"}` or a choice of them; a child group without one takes its runner's. */
  image?: unknown;
  /** A list of `{"pdh", "size"}`, or a choice of lists. */
  inputs?: unknown;
}

export interface GeneratorSpec {
  name: string;
  description?: string;
  seed?: number;
  groups: GroupSpec[];
  containerCountMax?: number;
}

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
    return parseFormat(json, opts);
  } catch (e) {
    if (e instanceof WorkloadError && opts.source) throw new WorkloadError(`${opts.source}: ${e.message}`);
    throw e;
  }
}

function parseFormat(json: unknown, opts: { seed?: number; source?: string }): Workload {
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
}

export function generateWorkload(spec: GeneratorSpec, seed: number): Workload {
  return generate(spec, checkSeed(seed, 'seed'));
}


// ---------------------------------------------------------------- trace

const CONTAINER_KEYS = ['id', 'at', 'vcpus', 'ram', 'scratch', 'gpus', 'gpuVRAM', 'priority', 'preemptible', 'supervisor', 'runtime', 'runtimeMs', 'exitCode', 'children', 'description', 'owner', 'image', 'imageSize', 'inputs', 'after'] as const;

function parseTrace(top: Record<string, unknown>, fallbackName: string, seedOverride?: number): Workload {
  obj(top, '', ['name', 'description', 'seed', 'containers', 'containerCountMax']);
  if (top.name !== undefined && typeof top.name !== 'string') fail('name', 'must be a string');
  const seed = seedOverride ?? (top.seed === undefined ? 0 : checkSeed(top.seed, 'seed'));
  const ids = new Set<string>();
  const containers = parseTraceList(top.containers, 'containers', '', ids);
  return { name: (top.name as string | undefined) ?? fallbackName, seed, containers, ...countMax(top) };
}

function parseTraceList(v: unknown, path: string, parentId: string, ids: Set<string>): SimContainer[] {
  const items = arr(v, path);
  const out = items.map((item, i) => parseTraceContainer(item, join(path, i), parentId ? `${parentId}/c${i}` : `t${i}`, ids));
  const siblings = new Set(out.map((c) => c.id));
  out.forEach((c, i) => {
    const after = (items[i] as Record<string, unknown>).after;
    if (after === undefined) return;
    const p = join(join(path, i), 'after');
    if (!parentId) fail(p, "only a runner's children can wait for siblings");
    c.after = parseAfter(after, p, c.id, siblings);
  });
  dependencyOrder(out, path);
  return out.sort(byAtThenId);
}

/** A child's `after`: ids of its siblings, at least one, each once. */
function parseAfter(v: unknown, path: string, self: string, siblings: ReadonlySet<string>): string[] {
  const list = arr(v, path);
  if (list.length === 0) fail(path, 'must name at least one sibling (or be left out)');
  const seen = new Set<string>();
  return list.map((id, j) => {
    if (typeof id !== 'string' || !siblings.has(id)) fail(join(path, j), `${JSON.stringify(id)} is not the id of a child of the same runner`);
    if (id === self) fail(join(path, j), 'a child cannot wait for itself');
    if (seen.has(id)) fail(join(path, j), `"${id}" is named twice`);
    seen.add(id);
    return id;
  });
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
  if (o.owner !== undefined) {
    if (typeof o.owner !== 'string' || o.owner === '') fail(join(path, 'owner'), 'must be a non-empty string');
    c.owner = o.owner;
  }
  const image = traceImage(o, path);
  if (image) c.image = image;
  if (o.inputs !== undefined) c.inputs = parseInputs(o.inputs, join(path, 'inputs'));
  if (o.children !== undefined) {
    if (!c.supervisor) fail(join(path, 'children'), 'only a supervisor (supervisor: true) can have children');
    c.children = parseTraceList(o.children, join(path, 'children'), id, ids);
  }
  return c;
}
