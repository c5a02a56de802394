/**
 * The ec2 driver's `DriverParameters`, named as the reference driver names
 * them. Our config loader passes the mapping through as written (without the
 * reference's defaults file), so the defaults live here. Names this driver
 * does not know are collected, not rejected: the reference's defaults file
 * mixes the Azure driver's parameters into the same mapping, and a config
 * copied from it must still start.
 */
import { parseDuration } from '../../src/config/units.js';

/** Validated parameters, every field present. */
export interface Ec2Params {
  /** Static credentials; both empty means the SDK's default credential chain (env, profile, instance role). */
  AccessKeyID: string;
  SecretAccessKey: string;
  Region: string;
  /** Security group ids for the instance's network interface (from a map of id to `{}`, or a list). */
  SecurityGroupIDs: string[];
  /** Subnets to launch in, tried in turn on subnet-specific failures; empty: the account's default. */
  SubnetID: string[];
  /** The SSH login user baked into the image (`Instance.remoteUser`). */
  AdminUsername: string;
  /** Volume type of the extra scratch volume. */
  EBSVolumeType: string;
  /** Per GiB-month, added to spot price history for the scratch volume. */
  EBSPrice: number;
  /** Instance profile name, or its ARN when it starts with `arn:`; empty: none. */
  IAMInstanceProfile: string;
  /** Ms between spot price refreshes; 0 turns spot price tracking off. */
  SpotPriceUpdateInterval: number;
  /** Instance family prefix (lowercase) -> vCPU quota group, for VcpuLimitExceeded. */
  InstanceTypeQuotaGroups: Record<string, string>;
  /** EC2 API endpoint override (tests, EC2-compatible clouds); empty: AWS's regional endpoint. */
  Endpoint: string;
}

/** The quota groups AWS's vCPU limits use, as the reference's defaults list them. */
export const DEFAULT_QUOTA_GROUPS: Readonly<Record<string, string>> = {
  a: 'standard',
  c: 'standard',
  d: 'standard',
  h: 'standard',
  i: 'standard',
  m: 'standard',
  r: 'standard',
  t: 'standard',
  z: 'standard',
  vt: 'g',
  p5: 'p5',
};

export const DEFAULT_EC2_PARAMS: Readonly<Ec2Params> = {
  AccessKeyID: '',
  SecretAccessKey: '',
  Region: '',
  SecurityGroupIDs: [],
  SubnetID: [],
  AdminUsername: 'crunch',
  EBSVolumeType: 'gp2',
  EBSPrice: 0.1,
  IAMInstanceProfile: '',
  SpotPriceUpdateInterval: 24 * 3600_000,
  InstanceTypeQuotaGroups: DEFAULT_QUOTA_GROUPS,
  Endpoint: '',
};

/** A DriverParameters value the ec2 driver cannot use; the message names the parameter. */
export class Ec2ParamsError extends Error {
  override name = 'Ec2ParamsError';
}

type Parser<T> = (value: unknown) => T;

const str: Parser<string> = (v) => {
  if (typeof v !== 'string') throw new Error(`expected a string, got ${JSON.stringify(v)}`);
  return v.trim();
};

/** `sg-1` / `[sg-1, sg-2]` / `{sg-1: {}, sg-2: {}}` (the reference's StringSet form). */
const idSet: Parser<string[]> = (v) => {
  let ids: unknown[];
  if (typeof v === 'string') ids = v === '' ? [] : [v];
  else if (Array.isArray(v)) ids = v;
  else if (typeof v === 'object' && v !== null) ids = Object.keys(v);
  else throw new Error(`expected a list of ids or a mapping of id to {}, got ${JSON.stringify(v)}`);
  if (ids.some((id) => typeof id !== 'string' || id.trim() === '')) {
    throw new Error(`expected non-empty id strings, got ${JSON.stringify(v)}`);
  }
  return [...new Set((ids as string[]).map((id) => id.trim()))];
};

const username: Parser<string> = (v) => {
  if (typeof v !== 'string' || !/^[a-z_][a-z0-9_-]*$/.test(v)) throw new Error(`expected a user name, got ${JSON.stringify(v)}`);
  return v;
};

const nonEmpty: Parser<string> = (v) => {
  const s = str(v);
  if (s === '') throw new Error('must not be empty');
  return s;
};

const price: Parser<number> = (v) => {
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isFinite(n) || n < 0) throw new Error(`expected a non-negative number, got ${JSON.stringify(v)}`);
  return n;
};

const duration: Parser<number> = (v) => {
  if (typeof v !== 'string' && typeof v !== 'number') throw new Error(`expected a duration like "24h", got ${JSON.stringify(v)}`);
  const ms = parseDuration(typeof v === 'string' ? v.trim() : v);
  if (ms < 0) throw new Error(`expected a non-negative duration, got ${JSON.stringify(v)}`);
  return ms;
};

/** Merged over the defaults, as the reference's config loader merges maps; keys are matched lowercase. */
const quotaGroups: Parser<Record<string, string>> = (v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a mapping of instance family to quota group');
  const out: Record<string, string> = { ...DEFAULT_QUOTA_GROUPS };
  for (const [family, group] of Object.entries(v)) {
    if (typeof group !== 'string' || group.trim() === '') throw new Error(`${family}: expected a quota group name, got ${JSON.stringify(group)}`);
    out[family.trim().toLowerCase()] = group.trim();
  }
  return out;
};

const endpoint: Parser<string> = (v) => {
  const s = str(v);
  if (s === '') return s;
  let url: URL;
  try {
    url = new URL(s);
  } catch {
    throw new Error(`expected a URL like "https://ec2.us-east-1.amazonaws.com", got ${JSON.stringify(v)}`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new Error(`expected an http(s) URL, got ${JSON.stringify(v)}`);
  return s;
};

const PARSERS: { [K in keyof Ec2Params]: Parser<Ec2Params[K]> } = {
  AccessKeyID: str,
  SecretAccessKey: str,
  Region: nonEmpty,
  SecurityGroupIDs: idSet,
  SubnetID: idSet,
  AdminUsername: username,
  EBSVolumeType: nonEmpty,
  EBSPrice: price,
  IAMInstanceProfile: str,
  SpotPriceUpdateInterval: duration,
  InstanceTypeQuotaGroups: quotaGroups,
  Endpoint: endpoint,
};

/** The parsed parameters and the names this driver ignored. */
export interface ParsedEc2Params {
  params: Ec2Params;
  /** Parameter names this driver does not know, sorted (the caller warns once). */
  unknown: string[];
}

/**
 * Validates `raw` (the YAML `DriverParameters` mapping) and fills in
 * defaults. Throws Ec2ParamsError naming the first bad parameter as
 * `DriverParameters.<Name>`. Null values count as absent.
 */
export function parseEc2Params(raw: Record<string, unknown> | undefined | null): ParsedEc2Params {
  const values = raw ?? {};
  if (typeof values !== 'object' || Array.isArray(values)) throw new Ec2ParamsError('DriverParameters: expected a mapping');
  const out: Ec2Params = { ...DEFAULT_EC2_PARAMS, InstanceTypeQuotaGroups: { ...DEFAULT_QUOTA_GROUPS } };
  const unknown: string[] = [];
  for (const [key, value] of Object.entries(values)) {
    if (!Object.hasOwn(PARSERS, key)) {
      unknown.push(key);
      continue;
    }
    if (value === undefined || value === null) continue;
    const k = key as keyof Ec2Params;
    try {
      (out as unknown as Record<string, unknown>)[k] = PARSERS[k](value);
    } catch (err) {
      throw new Ec2ParamsError(`DriverParameters.${key}: ${(err as Error).message}`);
    }
  }
  if (out.Region === '') throw new Ec2ParamsError('DriverParameters.Region: required (e.g. "us-east-1")');
  // One without the other is a half-pasted credential, not a request for the default chain.
  if ((out.AccessKeyID === '') !== (out.SecretAccessKey === '')) {
    const missing = out.AccessKeyID === '' ? 'AccessKeyID' : 'SecretAccessKey';
    throw new Ec2ParamsError(`DriverParameters.${missing}: required when ${missing === 'AccessKeyID' ? 'SecretAccessKey' : 'AccessKeyID'} is set (leave both empty to use the default credential chain)`);
  }
  return { params: out, unknown: unknown.sort() };
}
