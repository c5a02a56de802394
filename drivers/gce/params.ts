/**
 * The gce driver's `DriverParameters`. There is no reference GCE driver, so
 * the names follow the ec2/azure drivers' style (`AdminUsername`, `Endpoint`)
 * and Google's own terms (`Project`, `Zone`, `Subnetwork`). Defaults live here
 * because our config loader passes the mapping through as written.
 */

import { bool, httpURL, loginName, nonEmpty, type ParamParser, parseDriverParams, str } from '../../src/cloud/params.js';

/**
 * GPUs to attach to the VMs of one instance type, as N1 machine types get
 * them (accelerator-optimized types such as `g2-standard-8` have theirs
 * built in and need no entry).
 */
export interface GceGuestAccelerator {
  /** Accelerator type name in the zone, e.g. `nvidia-tesla-t4`. */
  AcceleratorType: string;
  /** How many; absent: the instance type's `GPU.DeviceCount`, or 1 when that is 0. */
  Count?: number;
}

/** Validated parameters, every field present. */
export interface GceParams {
  Project: string;
  /** Zones to create in, in order of preference; the next one is tried when a zone is out of capacity. */
  Zone: string[];
  /** Network name or URL/path; empty: the project's `default` network (unless Subnetwork is set). */
  Network: string;
  /** Subnetwork name (in the zone's region) or URL/path; empty: none. */
  Subnetwork: string;
  /** Service account the VMs run as; empty: none (workers get no Google credentials). */
  ServiceAccountEmail: string;
  /** OAuth scopes for that service account. */
  Scopes: string[];
  /** Service account key file for the dispatcher's own API calls; empty: application default credentials. */
  CredentialsFile: string;
  /** The SSH login user (`Instance.remoteUser`), given the dispatcher's key via `ssh-keys` (see `adminUsername`). */
  AdminUsername: string;
  /** Disk type of the boot and scratch disks, unless DiskTypes names the type's machine family. */
  DiskType: string;
  /**
   * Per machine family (the part of a ProviderType before the first `-`,
   * e.g. `n4`), the disk type of its boot and scratch disks, in place of
   * DiskType; empty: none. Families take different disk types (N4 and C4
   * only Hyperdisk, N1 and E2 no Hyperdisk), so one DiskType cannot serve
   * a cluster that mixes them.
   */
  DiskTypes: Record<string, string>;
  /** Boot disk size in GB; 0: the image's size. */
  DiskSizeGB: number;
  /** Give VMs an ephemeral external IP (workers are normally reached on their internal IP). */
  ExternalIP: boolean;
  /** Compute API endpoint override, e.g. `http://127.0.0.1:8080` for tests; empty: Google's. */
  Endpoint: string;
  /** Per Arvados instance type name (an `InstanceTypes` key), the GPUs to attach; empty: none. */
  GuestAccelerators: Record<string, GceGuestAccelerator>;
  /**
   * Per Arvados instance type name, the local SSDs (375 GiB each) to attach;
   * empty: none. For the machine series where they are optional (N1, N2,
   * N2D, C2, C2D, ...): `-lssd` types and the series that always have them
   * (Z3, A3, ...) come with theirs.
   */
  LocalSSDs: Record<string, GceLocalSSDs>;
  /**
   * Network tags for every VM (`tags.items`), which firewall rules can
   * target, e.g. to let the dispatcher reach port 22; empty: none.
   */
  NetworkTags: string[];
}

/** How many local SSDs a type's VMs get, and on which interface. */
export interface GceLocalSSDs {
  Count: number;
  /** SCSI (the default: what Arvados's compute image looks for on GCE) or NVME (faster; the only one on newer series). */
  Interface: 'SCSI' | 'NVME';
}

/** The size of one local SSD. */
export const LOCAL_SSD_BYTES = 375 * 2 ** 30;

export const DEFAULT_VM_SCOPES: readonly string[] = ['https://www.googleapis.com/auth/cloud-platform'];

export const DEFAULT_GCE_PARAMS: Readonly<GceParams> = {
  Project: '',
  Zone: [],
  Network: '',
  Subnetwork: '',
  ServiceAccountEmail: '',
  Scopes: [...DEFAULT_VM_SCOPES],
  CredentialsFile: '',
  AdminUsername: 'crunch',
  DiskType: 'pd-balanced',
  DiskTypes: {},
  DiskSizeGB: 0,
  ExternalIP: false,
  Endpoint: '',
  GuestAccelerators: {},
  LocalSSDs: {},
  NetworkTags: [],
};

/** A DriverParameters value the gce driver cannot use; the message names the parameter. */
export class GceParamsError extends Error {
  override name = 'GceParamsError';
}

/** `a`, `a,b`, `[a, b]`. */
const list: ParamParser<string[]> = (v) => {
  let items: unknown[];
  if (typeof v === 'string') items = v.split(',');
  else if (Array.isArray(v)) items = v;
  else throw new Error(`expected a string or a list of strings, got ${JSON.stringify(v)}`);
  if (items.some((i) => typeof i !== 'string')) throw new Error(`expected strings, got ${JSON.stringify(v)}`);
  return [...new Set((items as string[]).map((i) => i.trim()).filter((i) => i !== ''))];
};

const zones: ParamParser<string[]> = (v) => {
  const out = list(v);
  for (const z of out) if (!/^[a-z]+-[a-z0-9]+-[a-z0-9]+$/.test(z)) throw new Error(`expected a zone name like "us-central1-a", got ${JSON.stringify(z)}`);
  return out;
};

/** GCE's network tag syntax (RFC 1035 labels): lowercase letters, digits and `-`, a letter first, not `-` last, 1-63 characters. */
const NETWORK_TAG = /^[a-z](?:[-a-z0-9]{0,61}[a-z0-9])?$/;

/** GCE takes at most this many network tags on an instance. */
export const MAX_NETWORK_TAGS = 64;

const networkTags: ParamParser<string[]> = (v) => {
  const out = list(v);
  for (const t of out) {
    if (!NETWORK_TAG.test(t)) {
      throw new Error(`expected network tags of lowercase letters, digits and "-", starting with a letter, not ending with "-", at most 63 characters; got ${JSON.stringify(t)}`);
    }
  }
  if (out.length > MAX_NETWORK_TAGS) throw new Error(`expected at most ${MAX_NETWORK_TAGS} network tags, got ${out.length}`);
  return out;
};

/**
 * AdminUsername: any name the image's guest agent will make a login of, as
 * the ec2 driver takes any login name (`Admin`, `first.last`, `ec2-user`).
 * The agent reads each `ssh-keys` line as `USER:KEY`, cutting at the first
 * `:`; it skips a line whose user is empty, holds whitespace, starts with
 * `-` or holds `/`, or is `.` or `..`, and creates the user with useradd,
 * which takes POSIX portable names (loginName). A name it skips would
 * leave every worker without the dispatcher's key until TimeoutBooting, so
 * it is refused at start instead, saying why.
 */
const adminUsername: ParamParser<string> = (v) => {
  if (typeof v === 'string' && /[:\s]/.test(v)) {
    throw new Error(`expected a user name without ":" or whitespace (ssh-keys lines are USER:KEY), got ${JSON.stringify(v)}`);
  }
  if (v === '.' || v === '..') throw new Error(`expected a user name, got ${JSON.stringify(v)}, which the guest agent refuses`);
  return loginName(v);
};

/** A whole number of at least `min`, also written as a string (`"2"`); undefined for anything else. */
function wholeNumber(v: unknown, min: number): number | undefined {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isInteger(n) && n >= min ? n : undefined;
}

const sizeGB: ParamParser<number> = (v) => {
  const n = wholeNumber(v, 0);
  if (n === undefined) throw new Error(`expected a whole number of GB, got ${JSON.stringify(v)}`);
  return n;
};

const ACCELERATOR_KEYS = ['AcceleratorType', 'Count'];

type Fail = (path: string, message: string) => never;

/**
 * A mapping parameter, read apart from the shared table so that an error can
 * name the entry (and key) it is about: `DriverParameters.<param>.<entry>...`.
 * Absent or null is empty; `entry` reads each value, failing through `fail`.
 */
function parseMapping<T>(param: string, v: unknown, expected: string, entry: (key: string, value: unknown, fail: Fail) => T): Record<string, T> {
  const fail: Fail = (path, message) => {
    throw new GceParamsError(`DriverParameters.${param}${path}: ${message}`);
  };
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) fail('', `expected ${expected}, got ${JSON.stringify(v)}`);
  const out: Record<string, T> = {};
  for (const [key, value] of Object.entries(v as Record<string, unknown>)) out[key] = entry(key, value, fail);
  return out;
}

/** `GuestAccelerators`: `{<instance type name>: {AcceleratorType: nvidia-tesla-t4, Count: 2}}`. */
function parseGuestAccelerators(v: unknown): Record<string, GceGuestAccelerator> {
  return parseMapping('GuestAccelerators', v, 'a mapping from instance type name to {AcceleratorType, Count}', (name, entry, fail) => {
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
      fail(`.${name}`, `expected a mapping with AcceleratorType and optional Count, got ${JSON.stringify(entry)}`);
    }
    const fields = entry as Record<string, unknown>;
    for (const key of Object.keys(fields)) {
      if (!ACCELERATOR_KEYS.includes(key)) fail(`.${name}.${key}`, `unknown; expected ${ACCELERATOR_KEYS.join(' or ')}`);
    }
    const type = fields.AcceleratorType;
    // A name, not a path: accelerator types are zonal, and the driver names the zone it creates in.
    if (typeof type !== 'string' || !/^[a-z0-9][a-z0-9-]*$/.test(type.trim())) {
      fail(`.${name}.AcceleratorType`, `expected an accelerator type name like "nvidia-tesla-t4", got ${JSON.stringify(type ?? null)}`);
    }
    const acc: GceGuestAccelerator = { AcceleratorType: (type as string).trim() };
    const raw = fields.Count;
    if (raw !== undefined && raw !== null) {
      acc.Count = wholeNumber(raw, 1) ?? fail(`.${name}.Count`, `expected a whole number of at least 1, got ${JSON.stringify(raw)}`);
    }
    return acc;
  });
}

const LOCAL_SSD_KEYS = ['Count', 'Interface'];

/** `LocalSSDs`: `{<instance type name>: 2}` or `{<instance type name>: {Count: 2, Interface: NVME}}`. */
function parseLocalSSDs(v: unknown): Record<string, GceLocalSSDs> {
  return parseMapping('LocalSSDs', v, 'a mapping from instance type name to a count of local SSDs, or to {Count, Interface}', (name, entry, fail) => {
    const mapping = typeof entry === 'object' && entry !== null && !Array.isArray(entry);
    const fields: Record<string, unknown> = mapping ? (entry as Record<string, unknown>) : { Count: entry };
    for (const key of Object.keys(fields)) {
      if (!LOCAL_SSD_KEYS.includes(key)) fail(`.${name}.${key}`, `unknown; expected ${LOCAL_SSD_KEYS.join(' or ')}`);
    }
    const count = wholeNumber(fields.Count, 1) ?? fail(`.${name}${mapping ? '.Count' : ''}`, `expected a whole number of local SSDs, at least 1, got ${JSON.stringify(fields.Count ?? null)}`);
    const iface = fields.Interface === undefined || fields.Interface === null ? 'SCSI' : String(fields.Interface).trim().toUpperCase();
    if (iface !== 'SCSI' && iface !== 'NVME') fail(`.${name}.Interface`, `expected SCSI or NVME, got ${JSON.stringify(fields.Interface)}`);
    return { Count: count, Interface: iface as GceLocalSSDs['Interface'] };
  });
}

/** GCE's machine family names: `n4`, `c4a`, `a4x`, `t2d`. */
const MACHINE_FAMILY = /^[a-z][a-z0-9]*$/;

/** A disk type name (`pd-balanced`, `hyperdisk-balanced`): the driver writes the zonal path itself. */
const DISK_TYPE = /^[a-z](?:[-a-z0-9]*[a-z0-9])?$/;

/** `DiskTypes`: `{<machine family>: <disk type>}`, e.g. `{n4: hyperdisk-balanced, e2: pd-balanced}`. */
function parseDiskTypes(v: unknown): Record<string, string> {
  return parseMapping('DiskTypes', v, 'a mapping from machine family (e.g. n4) to disk type', (family, type, fail) => {
    if (!MACHINE_FAMILY.test(family)) {
      fail(`.${family}`, 'expected a machine family: the part of a ProviderType before the first "-", in lowercase, like "n4" or "c4a"');
    }
    const name = typeof type === 'string' ? type.trim() : type;
    if (typeof name !== 'string' || !DISK_TYPE.test(name)) {
      fail(`.${family}`, `expected a disk type name like "hyperdisk-balanced", got ${JSON.stringify(type ?? null)}`);
    }
    return name as string;
  });
}

/** The parameters read by the shared table (all but the mappings GuestAccelerators, LocalSSDs and DiskTypes). */
type TableParams = Omit<GceParams, 'GuestAccelerators' | 'LocalSSDs' | 'DiskTypes'>;

const PARSERS: { [K in keyof TableParams]: ParamParser<TableParams[K]> } = {
  Project: nonEmpty,
  Zone: zones,
  Network: str,
  Subnetwork: str,
  ServiceAccountEmail: str,
  Scopes: list,
  CredentialsFile: str,
  AdminUsername: adminUsername,
  DiskType: nonEmpty,
  DiskSizeGB: sizeGB,
  ExternalIP: bool,
  Endpoint: httpURL('http://127.0.0.1:8080'),
  NetworkTags: networkTags,
};

/** Every parameter the gce driver reads. */
export const GCE_PARAM_NAMES: readonly string[] = [...Object.keys(PARSERS), 'GuestAccelerators', 'LocalSSDs', 'DiskTypes'];

export interface ParsedGceParams {
  params: GceParams;
  /** Parameter names this driver does not know, sorted (the caller warns once). */
  unknown: string[];
}

/**
 * Validates `raw` and fills in defaults. Throws GceParamsError naming the
 * bad parameter as `DriverParameters.<Name>` (and the entry and key inside
 * GuestAccelerators and LocalSSDs, the family inside DiskTypes). Null values
 * count as absent. With `typeNames` (the cluster's InstanceTypes keys), a
 * GuestAccelerators or LocalSSDs entry must name one of them: a misspelt
 * name would otherwise leave that type's VMs without GPUs or disks.
 */
export function parseGceParams(raw: Record<string, unknown> | undefined | null, typeNames?: Iterable<string>): ParsedGceParams {
  let table: Record<string, unknown> | undefined | null = raw;
  let accelerators: unknown;
  let localSSDs: unknown;
  let diskTypes: unknown;
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw)) {
    ({ GuestAccelerators: accelerators, LocalSSDs: localSSDs, DiskTypes: diskTypes, ...table } = raw);
  }
  const { GuestAccelerators: _none, LocalSSDs: _noSSDs, DiskTypes: _noTypes, ...defaults } = DEFAULT_GCE_PARAMS;
  const parsed = parseDriverParams(table, PARSERS, defaults, (m) => new GceParamsError(m));
  const out: GceParams = {
    ...parsed.params,
    GuestAccelerators: parseGuestAccelerators(accelerators),
    LocalSSDs: parseLocalSSDs(localSSDs),
    DiskTypes: parseDiskTypes(diskTypes),
  };
  if (out.Project === '') throw new GceParamsError('DriverParameters.Project: required (the Google Cloud project id)');
  if (out.Zone.length === 0) throw new GceParamsError('DriverParameters.Zone: required (a zone like "us-central1-a", or a list of them)');
  if (typeNames !== undefined) {
    const known = new Set(typeNames);
    for (const [param, names] of [['GuestAccelerators', Object.keys(out.GuestAccelerators)], ['LocalSSDs', Object.keys(out.LocalSSDs)]] as const) {
      for (const name of names) {
        if (!known.has(name)) {
          throw new GceParamsError(`DriverParameters.${param}.${name}: no such instance type (InstanceTypes has ${[...known].sort().join(', ') || 'none'})`);
        }
      }
    }
  }
  return { params: out, unknown: parsed.unknown };
}
