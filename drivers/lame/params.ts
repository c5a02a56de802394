/**
 * The lame driver's `DriverParameters`: parsed and validated once, with an
 * error naming the parameter for anything wrong, and unknown names rejected
 * (a typo in a fault knob would otherwise silently test nothing).
 */
import { parseByteSize, parseDuration as parseGoDuration } from '../../src/config/units.js';
import { checkZoneParams, parseReclaimRates, parseSpotOutages, type SpotOutage } from './zones.js';

/** How the dispatcher reaches the VMs. */
export type LameTransport = 'ssh' | 'inprocess';

/** Validated parameters; durations in ms, rates in [0, 1]. */
export interface LameParams {
  /** Boot time of each VM is drawn from [MinBootTime, MaxBootTime]. */
  MinBootTime: number;
  MaxBootTime: number;
  /** Run time of a container whose command is not `sleep N` / `false`, drawn from [MinRunTime, MaxRunTime]. */
  MinRunTime: number;
  MaxRunTime: number;
  /** Fraction of create calls that fail with a plain Error. */
  ErrorRateCreate: number;
  /** Fraction of destroy calls that fail with a plain Error. */
  ErrorRateDestroy: number;
  /** Fraction of instance list calls that fail with a plain Error. */
  ErrorRateList: number;
  /** Fraction of setTags calls that fail with a plain Error (the tags stay as they were). */
  ErrorRateSetTags: number;
  /**
   * Fraction of create calls that fail with QuotaError whatever the count of
   * VMs (the account's quota taken by someone else), besides QuotaMaxInstances.
   */
  QuotaErrorRate: number;
  /** Fraction of create calls that fail with CapacityError for the requested type, besides CapacityErrorTypes. */
  CapacityErrorRate: number;
  /** Creates beyond this many live VMs fail with QuotaError; 0 = no quota. */
  QuotaMaxInstances: number;
  /** Provider types whose create always fails with CapacityError for that type. */
  CapacityErrorTypes: string[];
  /** Chance that a crunch-run process dies mid-run without updating its container. */
  CrunchRunCrashRate: number;
  /**
   * From RefuseStartsFrom to RefuseStartsUntil after the cloud starts,
   * crunch-run refuses every start (`--detach` of a container exits 2 before
   * taking a lock, as with a flag it does not know), as it would with a
   * setting every start trips over until an operator mends it. Until 0:
   * never. `--list` and `--kill` work throughout.
   */
  RefuseStartsFrom: number;
  RefuseStartsUntil: number;
  /**
   * The release ("X.Y.Z") of the crunch-run installed on the VMs; undefined:
   * the current one. An older one refuses the flags added since (e.g.
   * `--stdin-prices`, 3.2.1) as Go's flag parser does, with exit 2.
   */
  CrunchRunVersion: string | undefined;
  /**
   * How long a crashed crunch-run's lock stays held by its leftover children
   * (a stuck arv-mount), during which `--list` prints `UUID stale`. 0: the
   * lock is released at once and the next `--list` removes the lockfile.
   */
  StaleLockTime: number;
  /**
   * Chance per VM that it never finishes booting: its boot probe keeps
   * failing (and crunch-run with it) until it is destroyed, as a VM whose
   * image hangs in boot would. The dispatcher must give up on it after
   * TimeoutBooting.
   */
  NeverBootRate: number;
  /** Chance per VM that it starts reporting `broken` BrokenAfter after boot. */
  BrokenRate: number;
  BrokenAfter: number;
  /**
   * Chance per VM that the provider takes it back while it runs, as a spot
   * market does: the VM vanishes from the list and its crunch-runs die
   * without a word, at a time drawn from [boot, boot + ReclaimAfter].
   */
  ReclaimRate: number;
  ReclaimAfter: number;
  /** How long a signalled crunch-run takes to start shutting down (then it PUTs Cancelled and exits). */
  KillDelay: number;
  /** How long a destroyed VM stays in the instance list (its SSH server closes at once). */
  DestroyDelay: number;
  /** Seed for every random choice; undefined = a random seed. */
  Seed: number | undefined;
  Transport: LameTransport;
  /** The remote user (`Instance.remoteUser`). Not root, so commands arrive with `sudo`. */
  AdminUsername: string;
  /** Extra public keys every VM accepts besides the one given to create (an image's baked-in keys). */
  AuthorizedKeys: string[];
  /**
   * The name of the cloud (its VMs live in a process-wide map under this
   * name). Default: the InstanceSetID, so a restarted dispatcher finds its
   * VMs; give two instance sets the same CloudName to let them share a cloud.
   */
  CloudName: string | undefined;
  /**
   * Where a separate `arvados-dispatch-cloud lame-cloud` process serves the
   * cloud (`http://HOST:PORT`). Set: the driver is an HTTP client of that
   * process, whose VMs outlive any dispatcher, and the other parameters here
   * are the server's business. The server reads it as its listen address
   * (port 0: any free port, logged at start).
   */
  CloudURL: string | undefined;
  /**
   * Time to pull a container image onto a VM that does not have it, per GiB
   * of image (its size read from the image PDH, see `disk-cache.ts`); 0: images
   * cost nothing, as before this knob existed.
   */
  ImagePullTimePerGiB: number;
  /** Time to read an input collection (a `collection` mount) a VM has not read before, per GiB; 0: free. */
  ColdInputTimePerGiB: number;
  /** Bytes of images and inputs a VM keeps; the least recently used go first. */
  LocalCacheSize: number;
  /** The billed unit the driver declares (`InstanceSet.billingRule`), e.g. 1h; 0 with BillingMinimum 0: billed exactly. */
  BillingIncrement: number;
  /** The least a VM is billed (with BillingIncrement). */
  BillingMinimum: number;
  /**
   * The cloud's zones: each create goes to one (the one the caller asks
   * for, else round robin over those where the type's spot capacity is not
   * out). Empty: one unnamed zone, and instances carry no zone.
   */
  Zones: string[];
  /** Periods when a provider type's spot capacity is out, in every zone or one (see `zones.ts`). */
  SpotOutages: SpotOutage[];
  /** `ProviderType` or `ProviderType@Zone` -> chance per hour of running that a preemptible VM is reclaimed. */
  ReclaimRates: Record<string, number>;
}

export const DEFAULT_PARAMS: Readonly<LameParams> = {
  MinBootTime: 1000,
  MaxBootTime: 3000,
  MinRunTime: 5000,
  MaxRunTime: 20000,
  ErrorRateCreate: 0,
  ErrorRateDestroy: 0,
  ErrorRateList: 0,
  ErrorRateSetTags: 0,
  QuotaErrorRate: 0,
  CapacityErrorRate: 0,
  QuotaMaxInstances: 0,
  CapacityErrorTypes: [],
  CrunchRunCrashRate: 0,
  RefuseStartsFrom: 0,
  RefuseStartsUntil: 0,
  CrunchRunVersion: undefined,
  StaleLockTime: 0,
  NeverBootRate: 0,
  BrokenRate: 0,
  BrokenAfter: 10000,
  ReclaimRate: 0,
  ReclaimAfter: 3_600_000,
  KillDelay: 0,
  DestroyDelay: 0,
  Seed: undefined,
  Transport: 'ssh',
  AdminUsername: 'crunch',
  AuthorizedKeys: [],
  CloudName: undefined,
  CloudURL: undefined,
  ImagePullTimePerGiB: 0,
  ColdInputTimePerGiB: 0,
  LocalCacheSize: 100 * 1024 ** 3,
  BillingIncrement: 0,
  BillingMinimum: 0,
  Zones: [],
  SpotOutages: [],
  ReclaimRates: {},
};

/** A DriverParameters value the lame driver cannot use; the message names the parameter. */
export class LameParamsError extends Error {
  override name = 'LameParamsError';
}

/**
 * A duration parameter in ms: a Go duration string ("1s", "1m30s", "0"; the
 * config loader's parser) or a number, taken as ms, for programmatic use.
 * Throws an Error saying what was expected.
 */
export function parseDuration(value: unknown): number {
  if (typeof value === 'number') {
    if (!Number.isFinite(value) || value < 0) throw new Error(`expected a non-negative duration, got ${value}`);
    return value;
  }
  if (typeof value !== 'string') throw new Error(`expected a duration like "10s", got ${JSON.stringify(value)}`);
  const ms = parseGoDuration(value.trim());
  if (ms < 0) throw new Error(`expected a non-negative duration, got ${JSON.stringify(value)}`);
  return ms;
}

type Parser<T> = (value: unknown) => T;

const duration: Parser<number> = parseDuration;

const rate: Parser<number> = (v) => {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new Error(`expected a number from 0 to 1, got ${JSON.stringify(v)}`);
  return v;
};

const count: Parser<number> = (v) => {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0) throw new Error(`expected a non-negative integer, got ${JSON.stringify(v)}`);
  return v;
};

const size: Parser<number> = (v) => {
  if (typeof v === 'number') return count(v);
  if (typeof v !== 'string') throw new Error(`expected a size like "100GiB", got ${JSON.stringify(v)}`);
  return parseByteSize(v.trim());
};

const seed: Parser<number | undefined> = (v) => {
  if (typeof v !== 'number' || !Number.isInteger(v)) throw new Error(`expected an integer, got ${JSON.stringify(v)}`);
  return v;
};

const name: Parser<string> = (v) => {
  if (typeof v !== 'string' || v === '') throw new Error(`expected a non-empty string, got ${JSON.stringify(v)}`);
  return v;
};

const optionalName: Parser<string | undefined> = name;

const releaseVersion: Parser<string | undefined> = (v) => {
  if (typeof v !== 'string' || !/^\d+\.\d+\.\d+$/.test(v)) throw new Error(`expected a release like "3.2.0", got ${JSON.stringify(v)}`);
  return v;
};

const username: Parser<string> = (v) => {
  if (typeof v !== 'string' || !/^[a-z_][a-z0-9_-]*$/.test(v)) throw new Error(`expected a user name, got ${JSON.stringify(v)}`);
  return v;
};

const stringList: Parser<string[]> = (v) => {
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw new Error(`expected a list of strings, got ${JSON.stringify(v)}`);
  return [...(v as string[])];
};

const transport: Parser<LameTransport> = (v) => {
  if (v !== 'ssh' && v !== 'inprocess') throw new Error(`expected "ssh" or "inprocess", got ${JSON.stringify(v)}`);
  return v;
};

/** `http://host:port` and nothing more: a path, query or credentials would be silently ignored. */
const cloudURL: Parser<string | undefined> = (v) => {
  if (typeof v !== 'string' || v === '') throw new Error(`expected an http URL like "http://127.0.0.1:9100", got ${JSON.stringify(v)}`);
  let url: URL;
  try {
    url = new URL(v);
  } catch {
    throw new Error(`expected an http URL like "http://127.0.0.1:9100", got ${JSON.stringify(v)}`);
  }
  if (url.protocol !== 'http:') throw new Error(`expected an http:// URL, got ${JSON.stringify(v)}`);
  if (url.username || url.password || url.search || url.hash || (url.pathname !== '/' && url.pathname !== '')) {
    throw new Error(`expected only a scheme, host and port (like "http://127.0.0.1:9100"), got ${JSON.stringify(v)}`);
  }
  return url.origin;
};

const PARSERS: { [K in keyof LameParams]: Parser<LameParams[K]> } = {
  MinBootTime: duration,
  MaxBootTime: duration,
  MinRunTime: duration,
  MaxRunTime: duration,
  ErrorRateCreate: rate,
  ErrorRateDestroy: rate,
  ErrorRateList: rate,
  ErrorRateSetTags: rate,
  QuotaErrorRate: rate,
  CapacityErrorRate: rate,
  QuotaMaxInstances: count,
  CapacityErrorTypes: stringList,
  CrunchRunCrashRate: rate,
  RefuseStartsFrom: duration,
  RefuseStartsUntil: duration,
  CrunchRunVersion: releaseVersion,
  StaleLockTime: duration,
  NeverBootRate: rate,
  BrokenRate: rate,
  BrokenAfter: duration,
  ReclaimRate: rate,
  ReclaimAfter: duration,
  KillDelay: duration,
  DestroyDelay: duration,
  Seed: seed,
  Transport: transport,
  AdminUsername: username,
  AuthorizedKeys: stringList,
  CloudName: optionalName,
  CloudURL: cloudURL,
  ImagePullTimePerGiB: duration,
  ColdInputTimePerGiB: duration,
  LocalCacheSize: size,
  BillingIncrement: duration,
  BillingMinimum: duration,
  Zones: stringList,
  SpotOutages: parseSpotOutages,
  ReclaimRates: parseReclaimRates,
};

/**
 * Validates `raw` (the YAML `DriverParameters` mapping) and fills in
 * defaults. Throws LameParamsError naming the first bad parameter as
 * `DriverParameters.<Name>`.
 */
export function parseLameParams(raw: Record<string, unknown> | undefined | null): LameParams {
  const out: LameParams = { ...DEFAULT_PARAMS, CapacityErrorTypes: [], AuthorizedKeys: [], Zones: [], SpotOutages: [], ReclaimRates: {} };
  const values = raw ?? {};
  if (typeof values !== 'object' || Array.isArray(values)) throw new LameParamsError('DriverParameters: expected a mapping');
  for (const [key, value] of Object.entries(values)) {
    if (!Object.hasOwn(PARSERS, key)) {
      throw new LameParamsError(`DriverParameters.${key}: unknown parameter for the lame driver (known: ${Object.keys(PARSERS).join(', ')})`);
    }
    if (value === undefined || value === null) continue;
    const k = key as keyof LameParams;
    try {
      (out as unknown as Record<string, unknown>)[k] = PARSERS[k](value);
    } catch (err) {
      throw new LameParamsError(`DriverParameters.${key}: ${(err as Error).message}`);
    }
  }
  for (const [min, max] of [
    ['MinBootTime', 'MaxBootTime'],
    ['MinRunTime', 'MaxRunTime'],
  ] as const) {
    // Only one bound given: the other follows, so "MaxBootTime: 0" means instant boot.
    // A null bound is not given (as everywhere above: it takes the default).
    if (values[min] == null && out[min] > out[max]) out[min] = out[max];
    if (values[max] == null && out[max] < out[min]) out[max] = out[min];
    if (out[min] > out[max]) throw new LameParamsError(`DriverParameters.${max}: must not be less than ${min}`);
  }
  if (out.RefuseStartsUntil > 0 && out.RefuseStartsUntil <= out.RefuseStartsFrom) {
    throw new LameParamsError('DriverParameters.RefuseStartsUntil: must be after RefuseStartsFrom (or 0: starts are never refused)');
  }
  if (out.QuotaErrorRate + out.CapacityErrorRate > 1) {
    throw new LameParamsError('DriverParameters.CapacityErrorRate: QuotaErrorRate plus CapacityErrorRate must not exceed 1 (they share one draw per create)');
  }
  const zoneProblem = checkZoneParams(out);
  if (zoneProblem !== undefined) throw new LameParamsError(`DriverParameters.${zoneProblem}`);
  if (out.CloudURL !== undefined && out.Transport !== 'ssh') {
    throw new LameParamsError(
      'DriverParameters.Transport: must be "ssh" when CloudURL is set (the VMs live in the lame-cloud process and are reached over SSH)',
    );
  }
  return out;
}
