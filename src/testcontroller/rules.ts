/**
 * The Arvados rules the test controller's container table enforces on an
 * update (services/api/app/models/container.rb): which attributes a client
 * may set, which a state change permits, and what values they must have.
 */
import { CONTAINER_STATES, type ContainerState } from '../arvados/types.js';
import { isMap } from '../config/fields.js';
import { ApiError } from './http.js';

/** Attributes a client may send in an update; other known ones are read-only. */
export const SETTABLE = new Set([
  'state',
  'priority',
  'runtime_status',
  'exit_code',
  'progress',
  'log',
  'output',
  'gateway_address',
  'locked_by_uuid',
]);

/** Written by the process running the container; only the lock holder may change them. */
export const PROGRESS_ATTRS = ['progress', 'runtime_status', 'log', 'output', 'exit_code'];

/** runtime_status keys Arvados requires to be strings. */
const RUNTIME_STATUS_STRING_KEYS = ['error', 'errorDetail', 'warning', 'warningDetail', 'activity', 'preemptionNotice'];

/**
 * Attributes (besides state and locked_by_uuid) an update may change, by the
 * state it ends in and the state it started from (reference `validate_change`).
 */
export function permittedAttrs(to: ContainerState, from: ContainerState): string[] {
  switch (to) {
    case 'Queued':
      return ['priority'];
    case 'Locked':
      return ['priority', 'runtime_status', 'log'];
    case 'Running':
      return ['priority', 'gateway_address', ...PROGRESS_ATTRS];
    case 'Complete':
      return from === 'Running' ? PROGRESS_ATTRS : [];
    case 'Cancelled':
      if (from === 'Running') return PROGRESS_ATTRS;
      if (from === 'Queued' || from === 'Locked') return ['log', 'runtime_status'];
      return [];
  }
}

/** The `runtime_status.error` Arvados sets when it cancels a container for too many lock attempts. */
export function maxDispatchAttemptsError(lockCount: number): string {
  return `Failed to start container.  Cancelled after exceeding 'Containers.MaxDispatchAttempts' (lock_count=${lockCount})`;
}

/** Drops keys whose value is undefined, so `{field: undefined}` in a seed keeps the default. */
export function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export function validateValue(attr: string, v: unknown): void {
  const bad = (what: string): never => {
    throw new ApiError(422, `${attr} ${what}`);
  };
  switch (attr) {
    case 'state':
      if (typeof v !== 'string' || !(CONTAINER_STATES as readonly string[]).includes(v)) {
        bad(`must be one of ${CONTAINER_STATES.join(', ')} (got ${JSON.stringify(v)})`);
      }
      break;
    case 'priority':
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) bad('must be an integer >= 0');
      break;
    case 'exit_code':
      if (v !== null && (typeof v !== 'number' || !Number.isInteger(v))) bad('must be an integer or null');
      break;
    case 'progress':
      if (v !== null && (typeof v !== 'number' || !Number.isFinite(v))) bad('must be a number or null');
      break;
    case 'log':
    case 'output':
    case 'gateway_address':
    case 'locked_by_uuid':
      if (v !== null && typeof v !== 'string') bad('must be a string or null');
      break;
    case 'runtime_status':
      if (!isMap(v)) bad('must be a JSON object');
      for (const k of RUNTIME_STATUS_STRING_KEYS) {
        const val = (v as Record<string, unknown>)[k];
        if (val !== undefined && typeof val !== 'string') bad(`'${k}' value must be a string`);
      }
      break;
  }
}
