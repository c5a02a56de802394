/**
 * A container as the reference's management API shows it in its queue
 * entries: Go's encoding of the whole arvados.Container struct, in which its
 * queue filled in only what it reads from the controller (uuid, state,
 * priority, runtime_constraints, container_image, scheduling_parameters,
 * created_at). Every other key is still there, with Go's zero value ("", 0,
 * false, null, or the zero time), and the two structs always carry all
 * their keys, so `jq '.container.runtime_constraints.gpu.device_count'`
 * gives 0 rather than null for a record the controller wrote without a
 * `gpu` section. Where we know more than the reference (`locked_by_uuid`,
 * `lock_count`), we say it.
 */
import type { Container } from '../arvados/types.js';

/** The reference's RuntimeConstraints struct as JSON. */
export interface RuntimeConstraintsJSON {
  API: boolean;
  ram: number;
  vcpus: number;
  keep_cache_ram: number;
  keep_cache_disk: number;
  gpu: { stack: string; driver_version: string; hardware_target: string[] | null; device_count: number; vram: number };
}

/** The reference's SchedulingParameters struct as JSON. */
export interface SchedulingParametersJSON {
  partitions: string[] | null;
  preemptible: boolean;
  max_run_time: number;
  supervisor: boolean;
}

/** The reference's arvados.Container as JSON, its keys in the struct's order. */
export interface ContainerJSON {
  uuid: string;
  etag: string;
  created_at: string;
  modified_by_user_uuid: string;
  modified_at: string;
  command: string[] | null;
  container_image: string;
  cwd: string;
  environment: Record<string, string> | null;
  locked_by_uuid: string;
  lock_count: number;
  mounts: Record<string, unknown> | null;
  output: string;
  output_path: string;
  output_glob: string[] | null;
  priority: number;
  runtime_constraints: RuntimeConstraintsJSON;
  state: string;
  scheduling_parameters: SchedulingParametersJSON;
  exit_code: number;
  runtime_status: Record<string, unknown> | null;
  started_at: string | null;
  finished_at: string | null;
  gateway_address: string;
  interactive_session_started: boolean;
  output_storage_classes: string[] | null;
  runtime_user_uuid: string;
  runtime_auth_scopes: string[] | null;
  runtime_token: string;
  auth_uuid: string;
  log: string;
  cost: number;
  subrequests_cost: number;
  service: boolean;
  published_ports: Record<string, unknown> | null;
}

/** Go's zero time.Time in JSON. */
const ZERO_TIME = '0001-01-01T00:00:00Z';

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const bool = (v: unknown): boolean => v === true;
const strings = (v: unknown): string[] | null => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : null);
const obj = (v: unknown): Record<string, unknown> => (typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {});

/**
 * An RFC 3339 time as Go writes it back after reading it: fraction digits
 * only as many as needed, a zero offset as `Z`. Text that is not such a time
 * is returned as it is.
 */
export function goTimeText(text: string): string {
  const m = /^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$/i.exec(text);
  if (!m) return text;
  const frac = (m[2] ?? '').slice(0, 9).replace(/0+$/, '');
  const zone = m[3] === '+00:00' || m[3] === '-00:00' || m[3] === 'z' ? 'Z' : m[3];
  return `${m[1]}${frac ? `.${frac}` : ''}${zone}`;
}

export function runtimeConstraintsJSON(raw: unknown): RuntimeConstraintsJSON {
  const rc = obj(raw);
  const gpu = obj(rc.gpu);
  return {
    API: bool(rc.API),
    ram: num(rc.ram),
    vcpus: num(rc.vcpus),
    keep_cache_ram: num(rc.keep_cache_ram),
    keep_cache_disk: num(rc.keep_cache_disk),
    gpu: {
      stack: str(gpu.stack),
      driver_version: str(gpu.driver_version),
      hardware_target: strings(gpu.hardware_target),
      device_count: num(gpu.device_count),
      vram: num(gpu.vram),
    },
  };
}

export function schedulingParametersJSON(raw: unknown): SchedulingParametersJSON {
  const sp = obj(raw);
  return { partitions: strings(sp.partitions), preemptible: bool(sp.preemptible), max_run_time: num(sp.max_run_time), supervisor: bool(sp.supervisor) };
}

export function containerJSON(c: Container): ContainerJSON {
  const r = c as unknown as Record<string, unknown>;
  const time = (v: unknown): string | null => (typeof v === 'string' && v !== '' ? goTimeText(v) : null);
  return {
    uuid: c.uuid,
    etag: str(r.etag),
    created_at: time(r.created_at) ?? ZERO_TIME,
    modified_by_user_uuid: str(r.modified_by_user_uuid),
    modified_at: time(r.modified_at) ?? ZERO_TIME,
    command: strings(r.command),
    container_image: str(r.container_image),
    cwd: str(r.cwd),
    environment: r.environment ? (obj(r.environment) as Record<string, string>) : null,
    locked_by_uuid: str(r.locked_by_uuid),
    lock_count: num(r.lock_count),
    mounts: r.mounts ? obj(r.mounts) : null,
    output: str(r.output),
    output_path: str(r.output_path),
    output_glob: strings(r.output_glob),
    priority: num(r.priority),
    runtime_constraints: runtimeConstraintsJSON(r.runtime_constraints),
    state: str(r.state),
    scheduling_parameters: schedulingParametersJSON(r.scheduling_parameters),
    exit_code: num(r.exit_code),
    runtime_status: r.runtime_status ? obj(r.runtime_status) : null,
    started_at: time(r.started_at),
    finished_at: time(r.finished_at),
    gateway_address: str(r.gateway_address),
    interactive_session_started: bool(r.interactive_session_started),
    output_storage_classes: strings(r.output_storage_classes),
    runtime_user_uuid: str(r.runtime_user_uuid),
    runtime_auth_scopes: strings(r.runtime_auth_scopes),
    runtime_token: str(r.runtime_token),
    auth_uuid: str(r.auth_uuid),
    log: str(r.log),
    cost: num(r.cost),
    subrequests_cost: num(r.subrequests_cost),
    service: bool(r.service),
    published_ports: r.published_ports ? obj(r.published_ports) : null,
  };
}
