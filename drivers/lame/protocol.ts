/**
 * The lame cloud's HTTP API, shared by the server (`server.ts`, run by
 * `arvados-dispatch-cloud lame-cloud`) and the client (`remote.ts`): paths,
 * JSON shapes, and how a cloud error crosses the wire with its class, so the
 * client re-raises the same RateLimitError / QuotaError / CapacityError the
 * in-process driver would. README.md beside this file documents the API.
 */
import { CapacityError, QuotaError, RateLimitError } from '../../src/cloud/errors.js';
import type { InstanceTags } from '../../src/cloud/types.js';
import type { InstanceType } from '../../src/config/types.js';
import type { LameVM } from './vm.js';

/** Every path starts with this: a later, incompatible API gets a new prefix. */
export const API_PREFIX = '/v1';

/** An instance as `POST /v1/instances`, `GET /v1/instances` and `PUT .../tags` return it. */
export interface WireInstance {
  id: string;
  providerType: string;
  tags: InstanceTags;
  /** `127.0.0.1:PORT` of the VM's SSH server. */
  address: string;
  remoteUser: string;
  /** The lame zone the VM runs in; absent when the cloud has no Zones. */
  zone?: string;
}

/** The body of `POST /v1/instances`. The whole instance type travels: the server's config may not list it. */
export interface WireCreateRequest {
  instanceType: InstanceType;
  imageId: string;
  tags: InstanceTags;
  initCommand: string;
  publicKey: string;
}

/** Which error class a failure belongs to; `Error` for everything unclassified (transient to the caller). */
export type WireErrorClass = 'RateLimitError' | 'QuotaError' | 'CapacityError' | 'Error';

/** The body of every failed request: `{"error": WireError}`. */
export interface WireError {
  class: WireErrorClass;
  message: string;
  /** RateLimitError: epoch ms before which no call should be made. */
  earliestRetry?: number;
  /** CapacityError: the provider type that is out of stock. */
  instanceType?: string;
  /** CapacityError: the quota group that is out of stock. */
  quotaGroup?: string;
}

/** One crunch-run process on a VM, as `GET /v1/vms` shows it. */
export interface WireProcess {
  uuid: string;
  pid: number;
  phase: string;
  alive: boolean;
  lockHeld: boolean;
}

/** A VM as the test endpoint `GET /v1/vms` shows it: more than a cloud API would tell. */
export interface WireVM {
  id: string;
  providerType: string;
  instanceTypeName: string;
  state: 'running' | 'terminated';
  /** The boot probe succeeds. */
  booted: boolean;
  /** The VM hangs in boot (NeverBootRate): it will not boot unless told to. */
  neverBoots: boolean;
  /** `crunch-run --list` says `broken`. */
  broken: boolean;
  address: string;
  tags: InstanceTags;
  createdAt: number;
  bootAt: number;
  /** Container UUIDs whose crunch-run is alive. */
  runningContainers: string[];
  processes: WireProcess[];
  /** Open SSH connections. */
  connections: number;
}

/** A request the server refuses before reaching the cloud (bad JSON, unknown path): never retried. */
export class LameHttpError extends Error {
  override name = 'LameHttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function instanceToWire(vm: LameVM): WireInstance {
  return {
    id: vm.id,
    providerType: vm.instanceType.ProviderType,
    tags: { ...vm.tags },
    address: vm.address,
    remoteUser: vm.remoteUser,
    ...(vm.zone !== undefined ? { zone: vm.zone } : {}),
  };
}

export function vmToWire(vm: LameVM): WireVM {
  return {
    id: vm.id,
    providerType: vm.instanceType.ProviderType,
    instanceTypeName: vm.instanceType.Name,
    state: vm.state,
    booted: vm.booted,
    neverBoots: vm.neverBoots,
    broken: vm.reportsBroken,
    address: vm.address,
    tags: { ...vm.tags },
    createdAt: vm.createdAt,
    bootAt: vm.bootAt,
    runningContainers: vm.runningContainers(),
    processes: [...vm.processes.values()].map((p) => ({ uuid: p.uuid, pid: p.pid, phase: p.phase, alive: p.alive, lockHeld: p.lockHeld })),
    connections: vm.connectionCount(),
  };
}

/**
 * The HTTP status and body for a failure. Statuses follow what real clouds
 * answer (429 throttled, 403 quota, 503 out of capacity), but the client goes
 * by `class`, not by status.
 */
export function errorToWire(err: unknown): { status: number; body: { error: WireError } } {
  if (err instanceof RateLimitError) {
    return { status: 429, body: { error: { class: 'RateLimitError', message: err.message, earliestRetry: err.earliestRetry } } };
  }
  if (err instanceof QuotaError) return { status: 403, body: { error: { class: 'QuotaError', message: err.message } } };
  if (err instanceof CapacityError) {
    const error: WireError = { class: 'CapacityError', message: err.message };
    if (err.instanceType !== undefined) error.instanceType = err.instanceType;
    if (err.quotaGroup !== undefined) error.quotaGroup = err.quotaGroup;
    return { status: 503, body: { error } };
  }
  const status = err instanceof LameHttpError ? err.status : 500;
  return { status, body: { error: { class: 'Error', message: err instanceof Error ? err.message : String(err) } } };
}

/** The error a WireError stands for, of the same class the server raised. */
export function errorFromWire(w: WireError): Error {
  switch (w.class) {
    case 'RateLimitError':
      return new RateLimitError(w.message, typeof w.earliestRetry === 'number' ? w.earliestRetry : 0);
    case 'QuotaError':
      return new QuotaError(w.message);
    case 'CapacityError':
      return new CapacityError(w.message, { instanceType: w.instanceType, quotaGroup: w.quotaGroup });
    default:
      return new Error(w.message);
  }
}

/** True for a value shaped like a WireError (the client checks answers before trusting them). */
export function isWireError(v: unknown): v is WireError {
  return typeof v === 'object' && v !== null && typeof (v as WireError).class === 'string' && typeof (v as WireError).message === 'string';
}

/** Tags from JSON: a mapping of strings to strings; throws LameHttpError(400) naming `what`. */
export function parseTags(v: unknown, what: string): InstanceTags {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new LameHttpError(400, `${what}: expected an object of strings`);
  const out: InstanceTags = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw new LameHttpError(400, `${what}.${k}: expected a string, got ${JSON.stringify(val)}`);
    out[k] = val;
  }
  return out;
}
