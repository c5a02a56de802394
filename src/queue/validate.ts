/**
 * Container records as the queue takes them in from the controller: each
 * list item, each single-container read and each lock, unlock or update
 * answer is checked here before anything acts on it. A record that fails
 * is not used (a list goes on with its other items, a read is tried again
 * on the next poll, a lock or unlock answer makes the call fail and the
 * container is asked about again), and a warning naming the field is
 * logged, rate-limited per field: a controller that sends a thousand bad
 * items logs one line a minute, not a thousand.
 *
 * The checks are the types the reference's decoder would insist on (an
 * integer priority, a string state, ...) plus what this daemon relies on:
 * a container uuid, a state it knows, a non-negative priority. `lock_count`
 * is the exception: the reference does not read it, and only the start
 * breaker does, so a bad one is dropped (with its own warning) and the
 * record used without it, rather than a container left undispatched.
 */
import { CONTAINER_STATES, isContainerUuid, isInt64 } from '../arvados/types.js';
import type { Clock } from '../clock/index.js';
import { isMap } from '../config/fields.js';
import { RateLimitedLog, type Logger } from '../log.js';
import type { Listed } from './lists.js';

/** What is wrong with a record: the field, and what it holds instead of what it should. */
export interface RecordProblem {
  field: string;
  problem: string;
}

const STATES: ReadonlySet<unknown> = new Set(CONTAINER_STATES);

/** A short rendering of a bad value for the log (a controller can send megabytes). */
function shown(v: unknown): string {
  let s: string;
  try {
    s = JSON.stringify(v) ?? String(v);
  } catch {
    s = String(v);
  }
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}

/**
 * A non-negative int64 (`isInt64`): a current controller's container
 * priority is the request's priority times 2^50 less the request's creation
 * time in ms (about 5.6e17 at priority 500), far above 2^53.
 */
function count(v: unknown): boolean {
  return isInt64(v) && v >= 0;
}

type Check = (v: unknown) => boolean;
/** Optional fields: absent or null is fine, else the check must pass. */
const optional =
  (check: Check): Check =>
  (v) =>
    v === undefined || v === null || check(v);
const isString: Check = (v) => typeof v === 'string';
const isBoolean: Check = (v) => typeof v === 'boolean';

/** The first field of `rec` (under `prefix`) whose value fails its check. */
function firstBad(rec: Record<string, unknown>, checks: Record<string, [Check, string]>, prefix = ''): RecordProblem | undefined {
  for (const [field, [check, want]] of Object.entries(checks)) {
    const v = rec[field];
    if (!check(v)) return { field: prefix + field, problem: v === undefined ? `missing (must be ${want})` : `must be ${want}, not ${shown(v)}` };
  }
  return undefined;
}

const LISTED_CHECKS: Record<string, [Check, string]> = {
  uuid: [isContainerUuid, 'a container uuid'],
  state: [(v) => STATES.has(v), `one of ${CONTAINER_STATES.join(', ')}`],
  priority: [count, 'a non-negative 64-bit integer'],
  // Any string: it is compared with our own token's uuid, and anything else means "not ours".
  locked_by_uuid: [optional(isString), 'null or a string'],
};

/** A record's `lock_count` if it is a well-formed one, else undefined (missing, null or bad). */
export function lockCountOf(v: unknown): number | undefined {
  return count(v) ? (v as number) : undefined;
}

/** A `lock_count` that is there and is not a non-negative integer. */
function badLockCount(v: unknown): boolean {
  return v !== undefined && v !== null && !count(v);
}

/** Only the list fields of a well-formed record: what a list or a lock answer may change in the queue. */
export function listedFields(c: Listed): Listed {
  const out: Listed = { uuid: c.uuid, state: c.state, priority: c.priority };
  if (c.locked_by_uuid !== undefined) out.locked_by_uuid = c.locked_by_uuid;
  const locks = lockCountOf(c.lock_count);
  if (locks !== undefined) out.lock_count = locks;
  return out;
}

/** What is wrong with a list item (uuid, state, priority, lock holder), or undefined. */
export function listedProblem(v: unknown): RecordProblem | undefined {
  if (!isMap(v)) return { field: 'items[]', problem: `must be a container record, not ${shown(v)}` };
  return firstBad(v, LISTED_CHECKS);
}

const CONSTRAINT_CHECKS: Record<string, [Check, string]> = {
  vcpus: [count, 'a non-negative 64-bit integer'],
  ram: [count, 'a non-negative 64-bit integer'],
  keep_cache_ram: [optional(count), 'a non-negative 64-bit integer'],
  keep_cache_disk: [optional(count), 'a non-negative 64-bit integer'],
  API: [optional(isBoolean), 'a boolean'],
  gpu: [optional(isMap), 'an object'],
};

const GPU_CHECKS: Record<string, [Check, string]> = {
  stack: [optional(isString), 'a string'],
  driver_version: [optional(isString), 'a string'],
  hardware_target: [optional((v) => Array.isArray(v) && v.every(isString)), 'an array of strings'],
  device_count: [optional(count), 'a non-negative 64-bit integer'],
  vram: [optional(count), 'a non-negative 64-bit integer'],
};

const SCHEDULING_CHECKS: Record<string, [Check, string]> = {
  partitions: [optional((v) => Array.isArray(v) && v.every(isString)), 'an array of strings'],
  preemptible: [optional(isBoolean), 'a boolean'],
  max_run_time: [optional(count), 'a non-negative 64-bit integer'],
  supervisor: [optional(isBoolean), 'a boolean'],
};

/**
 * What is wrong with a single-container read of `uuid` (the list fields,
 * then the attributes the instance-type choice reads), or undefined.
 * Mounts are checked apart (`mountsProblem`): bad mounts make a container
 * unsatisfiable, as in the reference, rather than unreadable.
 */
export function detailsProblem(v: unknown, uuid: string): RecordProblem | undefined {
  if (!isMap(v)) return { field: '(record)', problem: `must be a container record, not ${shown(v)}` };
  const listed = firstBad(v, LISTED_CHECKS);
  if (listed) return listed;
  if (v.uuid !== uuid) return { field: 'uuid', problem: `asked for ${uuid}, got ${shown(v.uuid)}` };
  const rc = v.runtime_constraints;
  if (!isMap(rc)) return { field: 'runtime_constraints', problem: `must be an object, not ${shown(rc)}` };
  const bad = firstBad(rc, CONSTRAINT_CHECKS, 'runtime_constraints.') ?? (isMap(rc.gpu) ? firstBad(rc.gpu, GPU_CHECKS, 'runtime_constraints.gpu.') : undefined);
  if (bad) return bad;
  const sp = v.scheduling_parameters;
  if (sp !== undefined && sp !== null && !isMap(sp)) return { field: 'scheduling_parameters', problem: `must be an object, not ${shown(sp)}` };
  if (isMap(sp)) {
    const badSp = firstBad(sp, SCHEDULING_CHECKS, 'scheduling_parameters.');
    if (badSp) return badSp;
  }
  // created_at orders the queue and times the wait: it must parse.
  const timestamp: Check = (t) => typeof t === 'string' && !Number.isNaN(Date.parse(t));
  return firstBad(v, { container_image: [isString, 'a string'], created_at: [timestamp, 'an RFC 3339 timestamp'] });
}

/**
 * What is wrong with the answer to a lock, unlock or update of `uuid`: the
 * record must be that container's, with a known state; priority and lock
 * holder, when present, must be well formed.
 */
export function replyProblem(v: unknown, uuid: string): RecordProblem | undefined {
  if (!isMap(v)) return { field: '(record)', problem: `must be a container record, not ${shown(v)}` };
  if (v.uuid !== uuid) return { field: 'uuid', problem: `asked about ${uuid}, got ${shown(v.uuid)}` };
  const { state, priority, locked_by_uuid } = LISTED_CHECKS;
  // Lock and unlock answers may leave priority out; when it is there, it must be right.
  return firstBad(v, { state, priority: [(p) => p === undefined || priority[0](p), priority[1]], locked_by_uuid });
}

/** A warning's ContainerUUID field, when the record's uuid is one. */
function idFields(uuid: unknown): { ContainerUUID?: string } {
  return isContainerUuid(uuid) ? { ContainerUUID: uuid } : {};
}

/** The rate-limited warning for records that fail these checks, one key per field. */
export class BadRecordLog {
  private readonly log: RateLimitedLog;

  constructor(logger: Logger, clock: Clock, intervalMs = 60_000) {
    this.log = new RateLimitedLog(logger, clock, intervalMs);
  }

  /** Logs (rate-limited) that a record from `where` was not used. */
  report(where: string, p: RecordProblem, uuid?: unknown): void {
    const id = idFields(uuid);
    // The controller's text goes in a field, never in the message: winston reads "%s", "%c", ... in a message as placeholders.
    this.log.warn(`ignoring a container record from the controller: bad ${p.field}`, { ...id, Field: p.field, Problem: p.problem, Source: where }, `bad record ${where} ${p.field}`);
  }

  /** Logs (rate-limited) that a record's `lock_count` from `where` was bad, if it was: the record is used without it. */
  lockCount(where: string, rec: unknown): void {
    const v = (rec as { lock_count?: unknown } | null)?.lock_count;
    if (!badLockCount(v)) return;
    const id = idFields((rec as { uuid?: unknown }).uuid);
    this.log.warn('ignoring a bad lock_count from the controller: the record is used without it', { ...id, Field: 'lock_count', Problem: `must be a non-negative 64-bit integer, not ${shown(v)}`, Source: where }, `bad lock_count ${where}`);
  }

  /**
   * The items of a list answer that pass `listedProblem`, each reduced to
   * the list fields (anything else an item carries was not asked for, and
   * must not overwrite what the queue read by uuid); the others are reported.
   */
  usable(items: unknown[], where: string): Listed[] {
    const out: Listed[] = [];
    for (const it of items) {
      const p = listedProblem(it);
      if (p) this.report(where, p, (it as { uuid?: unknown } | null)?.uuid);
      else {
        this.lockCount(where, it);
        out.push(listedFields(it as Listed));
      }
    }
    return out;
  }
}
