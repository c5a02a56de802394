/**
 * The ec2 driver's `DriverParameters`, named as the reference driver names
 * them. Our config loader passes the mapping through as written (without the
 * reference's defaults file), so the defaults live here. Names this driver
 * does not know are collected, not rejected: the reference's defaults file
 * mixes the Azure driver's parameters into the same mapping, and a config
 * copied from it must still start.
 */
import { httpURL, loginName, nonNegativeNumber, type ParamParser, parseDriverParams, signedDuration, str } from '../../src/cloud/params.js';

/** Validated parameters, every field present. */
export interface Ec2Params {
  /** Static credentials; both empty means the SDK's default credential chain (env, profile, instance role). */
  AccessKeyID: string;
  SecretAccessKey: string;
  /** Empty: the AWS SDK's default chain decides (see region.ts); the driver factory fills it in. */
  Region: string;
  /** Security group ids for the instance's network interface (from a map of id to `{}`, or a list). */
  SecurityGroupIDs: string[];
  /** Subnets to launch in, tried in turn on subnet-specific failures; empty: the account's default. */
  SubnetID: string[];
  /** The SSH login user baked into the image (`Instance.remoteUser`). */
  AdminUsername: string;
  /** Volume type of the extra scratch volume (empty: `gp2`, as the reference). */
  EBSVolumeType: string;
  /** Per GiB-month, added to spot price history for the scratch volume. */
  EBSPrice: number;
  /** Instance profile name, or its ARN when it starts with `arn:`; empty: none. */
  IAMInstanceProfile: string;
  /** Ms between spot price refreshes; 0 turns spot price tracking off. */
  SpotPriceUpdateInterval: number;
  /** Provider type prefix (lowercase) -> vCPU quota group (`quota-group.ts` has the rule); '' means none. */
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

/** `sg-1` / `[sg-1, sg-2]` / `{sg-1: {}, sg-2: {}}` (the reference's StringSet form). */
const idSet: ParamParser<string[]> = (v) => {
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

/**
 * Merged over the defaults, as the reference's config loader merges maps.
 * Keys and values are taken as written: keys are matched against the
 * lower-cased provider type, so (as the reference documents) they must be
 * lower-case to match; an empty value takes a default's entry away.
 */
const quotaGroups: ParamParser<Record<string, string>> = (v) => {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) throw new Error('expected a mapping of instance family to quota group');
  const out: Record<string, string> = { ...DEFAULT_QUOTA_GROUPS };
  for (const [family, group] of Object.entries(v)) {
    // YAML's null is Go's zero value here: no group.
    if (group !== null && typeof group !== 'string') throw new Error(`${family}: expected a quota group name, got ${JSON.stringify(group)}`);
    out[family] = group ?? '';
  }
  return out;
};

/**
 * The reference fetches spot prices only while the interval is above 0, so a
 * negative one turns them off as 0 does: taken as 0, not refused.
 */
const spotInterval: ParamParser<number> = (v) => Math.max(0, signedDuration(v));

/** The reference takes an empty EBSVolumeType as its default. */
const volumeType: ParamParser<string> = (v) => str(v) || DEFAULT_EC2_PARAMS.EBSVolumeType;

const PARSERS: { [K in keyof Ec2Params]: ParamParser<Ec2Params[K]> } = {
  AccessKeyID: str,
  SecretAccessKey: str,
  Region: str,
  SecurityGroupIDs: idSet,
  SubnetID: idSet,
  AdminUsername: loginName,
  EBSVolumeType: volumeType,
  EBSPrice: nonNegativeNumber,
  IAMInstanceProfile: str,
  SpotPriceUpdateInterval: spotInterval,
  InstanceTypeQuotaGroups: quotaGroups,
  Endpoint: httpURL('https://ec2.us-east-1.amazonaws.com'),
};

/** Every parameter the ec2 driver reads. */
export const EC2_PARAM_NAMES: readonly string[] = Object.keys(PARSERS);

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
  const { params: out, unknown } = parseDriverParams(raw, PARSERS, DEFAULT_EC2_PARAMS, (m) => new Ec2ParamsError(m));
  // One without the other is a half-pasted credential, not a request for the default chain.
  if ((out.AccessKeyID === '') !== (out.SecretAccessKey === '')) {
    const missing = out.AccessKeyID === '' ? 'AccessKeyID' : 'SecretAccessKey';
    throw new Ec2ParamsError(`DriverParameters.${missing}: required when ${missing === 'AccessKeyID' ? 'SecretAccessKey' : 'AccessKeyID'} is set (leave both empty to use the default credential chain)`);
  }
  return { params: out, unknown };
}
