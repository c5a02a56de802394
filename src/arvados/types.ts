/**
 * Arvados records as the controller's REST API returns them (ARVADOS.md
 * section 1). Only the fields this daemon reads or writes are typed.
 */

export const CONTAINER_STATES = ['Queued', 'Locked', 'Running', 'Complete', 'Cancelled'] as const;
export type ContainerState = (typeof CONTAINER_STATES)[number];

const CONTAINER_UUID = /^[0-9a-z]{5}-dz642-[0-9a-z]{15}$/;

/**
 * The int64 limit as a JavaScript number: 2^63 - 1, the largest integer the
 * controller stores and a Go client decodes, parses as 2^63.
 */
export const INT64_MAX = 2 ** 63;

/**
 * An integer as the reference decodes it, into an int64, not only one a
 * JavaScript number holds exactly: above 2^53 it is rounded (to a multiple
 * of 64 or 128 near a current controller's container priorities), which
 * changes no comparison with 0 and no order this daemon makes.
 */
export function isInt64(v: unknown): v is number {
  return typeof v === 'number' && Number.isInteger(v) && Math.abs(v) <= INT64_MAX;
}

/** True for a well-formed container uuid (`zzzzz-dz642-` and 15 characters). */
export function isContainerUuid(v: unknown): v is string {
  return typeof v === 'string' && CONTAINER_UUID.test(v);
}

export interface GPURuntimeConstraints {
  stack: string;
  driver_version: string;
  hardware_target: string[];
  device_count: number;
  /** Bytes per device. */
  vram: number;
}

export interface RuntimeConstraints {
  /** Bytes. */
  ram: number;
  vcpus: number;
  /** Bytes. */
  keep_cache_ram?: number;
  /** Bytes. */
  keep_cache_disk?: number;
  API?: boolean;
  gpu?: GPURuntimeConstraints;
}

export interface SchedulingParameters {
  partitions?: string[];
  preemptible?: boolean;
  /** Seconds; 0 = no limit. */
  max_run_time?: number;
  supervisor?: boolean;
}

export interface Mount {
  kind: string;
  /** Bytes, for `tmp` mounts. */
  capacity?: number;
  [key: string]: unknown;
}

export interface Container {
  uuid: string;
  state: ContainerState;
  priority: number;
  locked_by_uuid?: string | null;
  lock_count?: number;
  runtime_constraints: RuntimeConstraints;
  scheduling_parameters: SchedulingParameters;
  mounts?: Record<string, Mount>;
  container_image: string;
  command?: string[];
  /** RFC 3339. */
  created_at: string;
  runtime_status?: Record<string, unknown>;
  exit_code?: number | null;
  started_at?: string | null;
  finished_at?: string | null;
}

/** `GET /arvados/v1/api_client_authorizations/current`. */
export interface ApiClientAuthorization {
  uuid: string;
  [key: string]: unknown;
}

/** A list response. */
export interface ItemList<T> {
  items: T[];
  items_available?: number;
  limit?: number;
  offset?: number;
}

/**
 * `Queued -> Locked | Cancelled; Locked -> Queued | Running | Cancelled;
 * Running -> Complete | Cancelled; Complete -> Cancelled`. The last is an
 * admin's (Arvados lets an admin cancel a finished container), and the
 * dispatcher's token is an admin's: a cancel sent on a stale view of a
 * container that has just completed destroys its result. The chaos checks
 * count one as a defect.
 */
export const LEGAL_TRANSITIONS: Record<ContainerState, readonly ContainerState[]> = {
  Queued: ['Locked', 'Cancelled'],
  Locked: ['Queued', 'Running', 'Cancelled'],
  Running: ['Complete', 'Cancelled'],
  Complete: ['Cancelled'],
  Cancelled: [],
};

/**
 * The attributes of a container request that fair share reads
 * (`src/placement/owners.ts`): who owns it and which container, if any,
 * made it.
 */
export interface ContainerRequest {
  uuid: string;
  owner_uuid: string;
  container_uuid: string | null;
  /** The container that submitted it (a workflow runner), or null for a top-level request. */
  requesting_container_uuid: string | null;
  modified_by_user_uuid?: string | null;
  priority?: number;
  state?: string;
}
