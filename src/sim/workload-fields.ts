/**
 * The workload files' field checks: every error names its JSON path, and
 * sizes and durations take the cluster config's units. Shared by the trace
 * reader (`workload.ts`) and the generator (`workload-generator.ts`).
 */
import type { Random } from '../../drivers/lame/random.js';
import { INT64_MAX } from '../arvados/types.js';
import { parseByteSize, parseDuration } from '../config/units.js';
import type { SimContainer } from './workload.js';
import { compareCodeUnits } from '../compare.js';

/** A workload file that cannot be used; the message names the JSON path. */
export class WorkloadError extends Error {
  override readonly name = 'WorkloadError';
}

export function fail(path: string, msg: string): never {
  throw new WorkloadError(path ? `${path}: ${msg}` : msg);
}

export const join = (path: string, key: string | number) => (typeof key === 'number' ? `${path}[${key}]` : path ? `${path}.${key}` : key);

export function obj(v: unknown, path: string, known?: readonly string[]): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(path, `must be an object, got ${JSON.stringify(v)}`);
  const o = v as Record<string, unknown>;
  if (known) {
    for (const k of Object.keys(o)) {
      if (!known.includes(k)) fail(join(path, k), `unknown key (expected one of ${known.join(', ')})`);
    }
  }
  return o;
}

export function arr(v: unknown, path: string): unknown[] {
  if (!Array.isArray(v)) fail(path, `must be an array, got ${JSON.stringify(v)}`);
  return v;
}

/** A workload's `containerCountMax`, when it has one: as a field to spread into the Workload. */
export function countMax(top: Record<string, unknown>): { containerCountMax?: number } {
  const max = top.containerCountMax;
  if (max === undefined) return {};
  if (typeof max !== 'number' || !Number.isInteger(max) || max < 1 || max > 100) fail('containerCountMax', 'must be an integer from 1 to 100');
  return { containerCountMax: max };
}

export function checkSeed(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) fail(path, 'must be an integer');
  return v;
}

/** The single key of a `{ kind: params }` object that is not a clamp. */
export function kindOf(o: Record<string, unknown>, path: string, kinds: readonly string[], extra: readonly string[] = []): string {
  const ks = Object.keys(o).filter((k) => !extra.includes(k));
  for (const k of ks) if (!kinds.includes(k)) fail(join(path, k), `unknown key (expected one of ${[...kinds, ...extra].join(', ')})`);
  if (ks.length !== 1) fail(path, `must have exactly one of ${kinds.join(', ')}`);
  return ks[0];
}

export type Unit = 'int' | 'number' | 'size' | 'duration';

/** What a field accepts: its unit and range. */
export interface FieldRule {
  unit: Unit;
  min: number;
  max?: number;
}

export const RULES = {
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

/**
 * The largest value a field may take: its rule's, or for whole numbers and
 * sizes the controller's limit (it stores them as 64-bit integers: `INT64_MAX`).
 */
export function ruleMax(rule: FieldRule): number {
  return rule.max ?? (rule.unit === 'int' || rule.unit === 'size' ? INT64_MAX : Infinity);
}

/** A constant in the rule's unit; `range` also checks it against the rule's bounds. */
export function quantity(v: unknown, path: string, rule: FieldRule, range = true): number {
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
    const max = ruleMax(rule);
    if (n > max) fail(path, `must be at most ${rule.max === undefined ? '9223372036854775807 (the 64-bit integer the controller stores)' : max}, got ${n}`);
  }
  return n;
}

export function positive(v: unknown, path: string): number {
  if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(path, 'must be a positive number');
  return v;
}

export function probability(v: unknown, path: string): number {
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) fail(path, 'must be a probability in [0, 1] (or true/false)');
  return v;
}

/**
 * `[[value, weight], ...]` at `path` (a `choice`): each value read by `one`,
 * weights positive. Returns the draw: one value by weight, one random number.
 */
export function weightedChoice<T>(items: unknown, path: string, one: (v: unknown, path: string) => T): (rnd: Random) => T {
  const list = arr(items, path);
  if (list.length === 0) fail(path, 'must list at least one [value, weight]');
  const values: T[] = [];
  const cum: number[] = [];
  let total = 0;
  list.forEach((item, i) => {
    const ip = join(path, i);
    const pair = arr(item, ip);
    if (pair.length !== 2) fail(ip, 'must be [value, weight]');
    values.push(one(pair[0], join(ip, 0)));
    total += positive(pair[1], join(ip, 1));
    cum.push(total);
  });
  return (rnd) => {
    const x = rnd.next() * total;
    const i = cum.findIndex((c) => x < c);
    return values[i < 0 ? values.length - 1 : i];
  };
}

/** Natural order ("g0-2" before "g0-10"), independent of locale. */
export function compareIds(a: string, b: string): number {
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
  return ra.length - rb.length || compareCodeUnits(a, b);
}

export const byAtThenId = (a: SimContainer, b: SimContainer) => a.at - b.at || compareIds(a.id, b.id);

/**
 * A runner's children in an order where each comes after the siblings it
 * waits for (`after`; ids that are not siblings are ignored). Throws a
 * WorkloadError at `path` naming a circle of children waiting for one
 * another. Iterative, so a long chain cannot overflow the stack.
 */
export function dependencyOrder(children: SimContainer[], path: string): SimContainer[] {
  const byId = new Map(children.map((c) => [c.id, c]));
  const waiting = new Map<string, number>();
  const dependents = new Map<string, SimContainer[]>();
  for (const c of children) {
    const deps = (c.after ?? []).filter((id) => byId.has(id));
    waiting.set(c.id, deps.length);
    for (const id of deps) (dependents.get(id) ?? dependents.set(id, []).get(id)!).push(c);
  }
  const order = children.filter((c) => waiting.get(c.id) === 0);
  for (let i = 0; i < order.length; i++) {
    for (const d of dependents.get(order[i]!.id) ?? []) {
      const left = waiting.get(d.id)! - 1;
      waiting.set(d.id, left);
      if (left === 0) order.push(d);
    }
  }
  if (order.length === children.length) return order;
  // Every child left over waits for another left over: follow those waits until one repeats.
  const chain: string[] = [];
  const at = new Map<string, number>();
  let id = children.find((c) => waiting.get(c.id)! > 0)!.id;
  while (!at.has(id)) {
    at.set(id, chain.length);
    chain.push(id);
    id = byId.get(id)!.after!.find((x) => (waiting.get(x) ?? 0) > 0)!;
  }
  return fail(path, `children wait for one another in a circle: ${[...chain.slice(at.get(id)), id].join(' -> ')}`);
}

/**
 * When each of a runner's children would be submitted if nothing waited, ms
 * after the runner starts: its `at`, or for one that waits for siblings,
 * `at` after the last of them would have ended (each lasting `durationMs`).
 */
export function idealStarts(children: SimContainer[], durationMs: (c: SimContainer) => number): Map<string, number> {
  const starts = new Map<string, number>();
  const byId = new Map(children.map((c) => [c.id, c]));
  for (const c of dependencyOrder(children, 'children')) {
    let t = 0;
    for (const id of c.after ?? []) {
      const d = byId.get(id);
      if (d) t = Math.max(t, starts.get(id)! + durationMs(d));
    }
    starts.set(c.id, t + c.at);
  }
  return starts;
}
