/**
 * The gce driver's `DriverParameters`. There is no reference GCE driver, so
 * the names follow the ec2/azure drivers' style (`AdminUsername`, `Endpoint`)
 * and Google's own terms (`Project`, `Zone`, `Subnetwork`). Defaults live here
 * because our config loader passes the mapping through as written.
 */

import { bool, httpURL, nonEmpty, type ParamParser, parseDriverParams, str, username } from '../../src/cloud/params.js';

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
  /** The SSH login user (`Instance.remoteUser`), given the dispatcher's key via `ssh-keys`. */
  AdminUsername: string;
  /** Disk type of the boot and scratch disks. */
  DiskType: string;
  /** Boot disk size in GB; 0: the image's size. */
  DiskSizeGB: number;
  /** Give VMs an ephemeral external IP (workers are normally reached on their internal IP). */
  ExternalIP: boolean;
  /** Compute API endpoint override, e.g. `http://127.0.0.1:8080` for tests; empty: Google's. */
  Endpoint: string;
}

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
  DiskSizeGB: 0,
  ExternalIP: false,
  Endpoint: '',
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

const sizeGB: ParamParser<number> = (v) => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0) throw new Error(`expected a whole number of GB, got ${JSON.stringify(v)}`);
  return n;
};

const PARSERS: { [K in keyof GceParams]: ParamParser<GceParams[K]> } = {
  Project: nonEmpty,
  Zone: zones,
  Network: str,
  Subnetwork: str,
  ServiceAccountEmail: str,
  Scopes: list,
  CredentialsFile: str,
  AdminUsername: username,
  DiskType: nonEmpty,
  DiskSizeGB: sizeGB,
  ExternalIP: bool,
  Endpoint: httpURL('http://127.0.0.1:8080'),
};

export interface ParsedGceParams {
  params: GceParams;
  /** Parameter names this driver does not know, sorted (the caller warns once). */
  unknown: string[];
}

/**
 * Validates `raw` and fills in defaults. Throws GceParamsError naming the
 * bad parameter as `DriverParameters.<Name>`. Null values count as absent.
 */
export function parseGceParams(raw: Record<string, unknown> | undefined | null): ParsedGceParams {
  const { params: out, unknown } = parseDriverParams(raw, PARSERS, DEFAULT_GCE_PARAMS, (m) => new GceParamsError(m));
  if (out.Project === '') throw new GceParamsError('DriverParameters.Project: required (the Google Cloud project id)');
  if (out.Zone.length === 0) throw new GceParamsError('DriverParameters.Zone: required (a zone like "us-central1-a", or a list of them)');
  return { params: out, unknown };
}
