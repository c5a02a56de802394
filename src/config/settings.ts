/**
 * This daemon's own settings file (`/etc/arvados/dispatch-cloud.yml` unless
 * `--settings` or ARVADOS_DISPATCH_CLOUD_SETTINGS names another): settings for
 * features the reference dispatcher lacks. They cannot go in the cluster's
 * `config.yml`, which every Arvados service reads and whose unknown keys
 * the reference's tools complain about.
 *
 * The file is ours alone, so it is read strictly: an unknown key, a value of
 * the wrong type or out of range is an error (with its YAML path), and the
 * daemon does not start. Each feature has a section of its own, so later
 * features add a section without touching the others.
 */
import { readFileSync } from 'node:fs';
import { isScalar, parseDocument } from 'yaml';
import { bool, checkKnownKeys, type Field, isMap, type Path, Problems, readMap, type ReadContext, readSection } from './fields.js';
import { collectionKeyProblems, ConfigError, YAML_OPTIONS, yamlProblem } from './load.js';
import { decodeYAMLBytes } from './go-yaml.js';
import { placer, yamlWhere } from './locate.js';
import { fairShareBy, type FairShareBy, priorityBands, weightMap } from './settings-fair-share.js';
import { warmPoolList, type WarmPoolEntry } from './warm-pools.js';
import { billingRuleMap } from './settings-billing.js';
import type { BillingRule } from '../cost/billing.js';
import { boundedDuration, boundedNumber } from './settings-bounded.js';

export { DEFAULT_SETTINGS_PATH, SETTINGS_PATH_ENV } from './settings-path.js';

/** The compiled settings: every key present. Durations in ms. */
export interface Settings {
  /** The subscription to `Services.Websocket.ExternalURL`. */
  EventFeed: {
    /** Subscribe when the URL is set; false: work from polls alone, as the reference does. */
    Enable: boolean;
    /** Connect with a token of the feed's own, scoped to reading containers (`arvados/feed-token.ts`); false: with the SystemRootToken. */
    ScopedToken: boolean;
  };
  /** What the dispatcher writes in a container's `scheduling_status` (Workbench shows it). */
  SchedulingStatus: {
    /** Append the estimated start time; off by default, so the text stays the reference's. */
    AppendEstimate: boolean;
  };
  /** What the estimates assume where there is nothing to learn from yet. */
  Estimates: {
    /** Runtime of a container with no history. */
    DefaultRuntime: number;
    /** Boot time of an instance type never seen booting. */
    DefaultBootTime: number;
  };
  /** Suggestions for containers that wait (what would let them start sooner). */
  Suggestions: {
    Enable: boolean;
    /** Only for containers that have waited longer than this. */
    After: number;
    /** How far ahead the simulator runs for one suggestion. */
    Horizon: number;
    /** The share of one CPU the simulator may use, in (0, 1]. */
    MaxCPUFraction: number;
  };
  /** Sharing capacity among submitters (`src/placement/fair-share.ts`); off by default. */
  FairShare: {
    Enable: boolean;
    /**
     * Who a share belongs to, read from the container's top-level container
     * request: `project`, its owner_uuid as it is (a project, or the user
     * whose home project holds it); `owner`, the user: that owner_uuid when
     * it is a user, and when it is a project the user who last changed the
     * request (modified_by_user_uuid: its submitter unless someone changed
     * it since).
     */
    By: FairShareBy;
    /** The sliding window over which VCPU-seconds used are counted. */
    Window: number;
    /** Weight by owner (or project) uuid; 1 for anyone unlisted. */
    Weights: Record<string, number>;
    /** Priority thresholds, highest first: a container at or above one goes before every container below it; shares apply within each band. */
    PriorityBands: number[];
  };
  /** Idle VMs kept ready before work arrives (`src/placement/warm-pools.ts`); none by default. */
  WarmPools: {
    /** Per instance type: at least `Min` idle VMs, always or within a weekly window. */
    Pools: WarmPoolEntry[];
    /** Also keep this many idle VMs per busy VM of each type (0.1: one idle per ten busy, rounded down); 0: none. */
    BusyFraction: number;
  };
  /** VMs created for a workflow runner's children before they are submitted, learnt from earlier runs (`src/placement/prewarm.ts`). */
  PreWarm: {
    Enable: boolean;
    /** $/h: the most that VMs created speculatively and not used yet may cost at once. */
    MaxSpeculativeSpend: number;
    /** How much earlier than their expected boot time VMs are created for children expected to arrive. */
    Lead: number;
    /** The share of earlier runs of the same runner image that must have had such children, in (0, 1]. */
    MinConfidence: number;
  };
  /** Locality (`src/placement/locality.ts`): prefer, and briefly wait for, a VM that has the container's image or inputs. */
  Locality: {
    Enable: boolean;
    /** How long a container may wait for a VM that has its image (only while one is expected to be free in time). */
    CacheTimeout: number;
    /** Then how long it may wait for a VM that has some of its inputs (none by default); after that, any VM (a new one included). */
    DepsTimeout: number;
  };
  /** Drain to save (`src/placement/drain.ts`): stop placing new containers on partly used VMs whose work would fit elsewhere. */
  DrainToSave: {
    Enable: boolean;
    /** A VM starts draining only while its containers use at most this share of its most used resource, in (0, 1]. */
    MaxUsedShare: number;
    /** Nothing drains until the cluster has needed no new VM, and started nothing on a draining VM, for this long. */
    QuietPeriod: number;
  };
  /** Billing granularity (`src/cost/billing.ts`, `src/worker/idle-stretch.ts`): how VMs are billed, and idle VMs kept to the end of a paid period. */
  Billing: {
    /** Billing rules by Arvados or provider type name (`"*"`: every other type), overriding the driver's; empty: the drivers' own. */
    InstanceTypes: Record<string, BillingRule>;
    /** Keep an idle VM past TimeoutIdle to just before the end of its already-paid period, when work that fits it is likely to come. */
    StretchIdle: boolean;
    /** Never keep one longer than this past TimeoutIdle: a paid period that ends later is not waited for. */
    MaxStretch: number;
    /** How long before the paid period ends the kept VM is shut down (the destroy call must land before the next increment). */
    StretchMargin: number;
    /** Work is likely when containers that fit the type arrived at a rate that makes one in the kept time at least this likely, in (0, 1]. */
    MinLikelihood: number;
    /** The recent arrivals the rate is taken over. */
    ArrivalWindow: number;
  };
  /**
   * Spot VMs the provider takes back (`src/placement/reclaims.ts`). Reclaims
   * are always noticed and counted (metrics, status page), and a VM with an
   * interruption notice never gets new containers; what the scheduler does
   * with the counts is off by default.
   */
  Reclaims: {
    /** Rank eligible spot types by price raised for their recent reclaim rate, so often-reclaimed types go after cheaper-looking ones. */
    AvoidReclaimedTypes: boolean;
    /** How fast a reclaim is forgotten: its weight halves every this long. */
    HalfLife: number;
    /** Run a container on demand once its request's work was lost to reclaims this many times; 0: never. */
    OnDemandAfter: number;
    /** Run a preemptible container on demand from the start when its expected runtime exceeds this; 0: never. */
    OnDemandAboveRuntime: number;
  };
  /** Spot fallback (`src/placement/spot-fallback.ts`): run a preemptible container on demand once spot capacity has been out for a while. */
  SpotFallback: {
    Enable: boolean;
    /** How long every eligible spot type of a container must have been at capacity before it runs on an on-demand type. */
    After: number;
  };
  /**
   * A spending cap in dollars per hour (`src/placement/spending-cap.ts`): what
   * the VMs alive now cost, VMs being created included, bounds what new VMs
   * may be created. Running work is never stopped, and an idle VM is always
   * used. A level of 0 is not set.
   */
  SpendingCap: {
    Enable: boolean;
    /** $/h for the whole cluster: above it, new VMs only preemptible, and only for work at or above DeferBelowPriority. Above Hard, Hard is used. */
    Soft: number;
    /** $/h for the whole cluster: no new VM may take the burn above it. */
    Hard: number;
    /** Above a soft level, containers of a lower priority get no new VM (0: none is deferred). */
    DeferBelowPriority: number;
    /** Who an owner's cap applies to: `owner` or `project` of the top-level request, as for FairShare.By. */
    PerOwnerBy: FairShareBy;
    /** $/h per owner: the soft level of each owner's burn (its containers' shares of their VMs, plus VMs being created for it). */
    PerOwnerSoft: number;
    /** $/h per owner: the hard level of each owner's burn. */
    PerOwnerHard: number;
    /**
     * While a container waits for money under the cluster's hard level,
     * the containers after it start on no ready VM, and empty VMs are shut
     * down until its VM fits (as the cloud quota's line does); false: ready
     * VMs stay usable to all, and it waits for the burn to fall by itself.
     */
    HighPriorityFirst: boolean;
  };
  /**
   * Holding new locks while containers keep going back to the queue without
   * running (`src/scheduler/start-breaker.ts`): a cause every start shares
   * would otherwise spend every container's MaxDispatchAttempts, and the
   * controller would cancel the whole queue. On by default; false: lock on,
   * as the reference does.
   */
  StartBreaker: {
    Enable: boolean;
    /** While new locks are held, one container is locked to try it this often (never on its last attempt). */
    TryInterval: number;
    /** After the start, a container whose lock would be its last attempt waits for a container to run, this long at most (0: it does not wait). */
    LastAttemptWait: number;
  };
}

/** The table of every section's fields; `satisfies` keeps it and `Settings` in step. */
export const SETTINGS_FIELDS = {
  EventFeed: {
    Enable: bool(true),
    ScopedToken: bool(true),
  },
  SchedulingStatus: {
    AppendEstimate: bool(false),
  },
  Estimates: {
    DefaultRuntime: boundedDuration('10m', { min: 0, minExclusive: true }),
    DefaultBootTime: boundedDuration('3m', { min: 0 }),
  },
  Suggestions: {
    Enable: bool(true),
    After: boundedDuration('1m', { min: 0 }),
    Horizon: boundedDuration('30m', { min: 0, minExclusive: true }),
    MaxCPUFraction: boundedNumber(0.1, { min: 0, minExclusive: true, max: 1 }),
  },
  FairShare: {
    Enable: bool(false),
    By: fairShareBy('owner'),
    Window: boundedDuration('1h', { min: 0, minExclusive: true }),
    Weights: weightMap(),
    PriorityBands: priorityBands(),
  },
  WarmPools: {
    Pools: warmPoolList(),
    BusyFraction: boundedNumber(0, { min: 0, max: 10 }),
  },
  PreWarm: {
    Enable: bool(false),
    MaxSpeculativeSpend: boundedNumber(5, { min: 0 }),
    Lead: boundedDuration('30s', { min: 0 }),
    MinConfidence: boundedNumber(0.5, { min: 0, minExclusive: true, max: 1 }),
  },
  Locality: {
    Enable: bool(false),
    // Measured best in the simulator (bench/README.md, "Locality"): waits for inputs alone cost more than they saved.
    CacheTimeout: boundedDuration('5m', { min: 0 }),
    DepsTimeout: boundedDuration('0s', { min: 0 }),
  },
  DrainToSave: {
    Enable: bool(false),
    MaxUsedShare: boundedNumber(0.5, { min: 0, minExclusive: true, max: 1 }),
    QuietPeriod: boundedDuration('10m', { min: 0 }),
  },
  Billing: {
    InstanceTypes: billingRuleMap(),
    StretchIdle: bool(false),
    MaxStretch: boundedDuration('30m', { min: 0 }),
    StretchMargin: boundedDuration('1m', { min: 0 }),
    MinLikelihood: boundedNumber(0.5, { min: 0, minExclusive: true, max: 1 }),
    ArrivalWindow: boundedDuration('1h', { min: 0, minExclusive: true }),
  },
  Reclaims: {
    AvoidReclaimedTypes: bool(false),
    HalfLife: boundedDuration('6h', { min: 0, minExclusive: true }),
    OnDemandAfter: boundedNumber(0, { min: 0, max: 100 }),
    OnDemandAboveRuntime: boundedDuration('0s', { min: 0 }),
  },
  SpotFallback: {
    Enable: bool(false),
    After: boundedDuration('5m', { min: 0 }),
  },
  SpendingCap: {
    Enable: bool(false),
    Soft: boundedNumber(0, { min: 0 }),
    Hard: boundedNumber(0, { min: 0 }),
    DeferBelowPriority: boundedNumber(0, { min: 0 }),
    PerOwnerBy: fairShareBy('owner'),
    PerOwnerSoft: boundedNumber(0, { min: 0 }),
    PerOwnerHard: boundedNumber(0, { min: 0 }),
    HighPriorityFirst: bool(true),
  },
  StartBreaker: {
    Enable: bool(true),
    TryInterval: boundedDuration('1m', { min: 0, minExclusive: true }),
    LastAttemptWait: boundedDuration('10m', { min: 0 }),
  },
} satisfies { [S in keyof Settings]: { [K in keyof Settings[S]]: Field<Settings[S][K]> } };

/** Every setting at its default: what the daemon runs with when there is no settings file. */
export function defaultSettings(): Settings {
  return compile({ problems: new Problems(), sourceText: () => undefined, readByReference: false }, {});
}

export interface SettingsResult {
  settings: Settings;
  /** False when the file was absent (only possible at the default path): the settings are the defaults. */
  found: boolean;
  /** Problems that do not stop the daemon (check-config fails on them when strict), one line each. */
  warnings: string[];
  /**
   * A problem line found later about these settings (`WarmPools.Pools.0.InstanceType: ...`,
   * checked against the cluster config), with the file, and the line of that key when the
   * file writes it, before it, as the loader's own lines have them.
   */
  place(line: string): string;
}

/**
 * Reads and compiles a settings file. A missing file means the defaults,
 * unless it was named explicitly (`--settings`, the environment variable),
 * since then its absence is a mistake. Throws `ConfigError` listing every
 * problem, each as `file: Section.Key: what was expected`.
 */
export function loadSettingsFile(path: string, opts: { explicit: boolean }): SettingsResult {
  let text: string;
  try {
    text = decodeYAMLBytes(readFileSync(path)).text;
  } catch (err) {
    if (!opts.explicit && (err as NodeJS.ErrnoException).code === 'ENOENT') return { settings: defaultSettings(), found: false, warnings: [], place: (line) => `${path}: ${line}` };
    throw new ConfigError([`${path}: cannot read the settings file: ${(err as Error).message}`]);
  }
  return loadSettingsText(text, path);
}

/** Compiles settings text; `source` names it in every message. An empty file means the defaults. */
export function loadSettingsText(text: string, source: string): SettingsResult {
  const doc = parseDocument(text, YAML_OPTIONS);
  // Unlike the cluster config, a key given twice is an error: nobody else reads this file.
  if (doc.errors.length > 0) throw new ConfigError(doc.errors.map((e) => yamlProblem(source, e)));
  const warnings = doc.warnings.map((e) => yamlProblem(source, e));
  const inFile = (lines: string[]): string[] => lines.map((line) => `${source}: ${line}`);
  const collectionKeys = collectionKeyProblems(doc, text);
  if (collectionKeys.length > 0) throw new ConfigError(inFile(collectionKeys), warnings);

  let root: unknown;
  try {
    root = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    throw new ConfigError([`${source}: ${(err as Error).message}`], warnings);
  }
  // Lines without the file: `inFile` puts it before every line.
  const where = yamlWhere(doc, text);
  const problems = new Problems(where);
  const ctx: ReadContext = {
    problems,
    sourceText(path: Path) {
      const node = doc.getIn(path, true);
      return isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
    },
    readByReference: false,
  };
  const top = root === null || root === undefined ? {} : isMap(root) ? root : undefined;
  if (!top) throw new ConfigError([`${source}: expected a map of sections (${Object.keys(SETTINGS_FIELDS).join(', ')}) at the top level`], warnings);
  const settings = compile(ctx, top);
  warnings.push(...inFile(problems.warnings));
  if (problems.errors.length > 0) throw new ConfigError(inFile(problems.errors), warnings);
  const place = placer(where);
  return { settings, found: true, warnings, place: (line) => `${source}: ${place(line)}` };
}

/** Reads every section of `root` (a missing one takes its defaults); unknown sections and keys are errors. */
function compile(ctx: ReadContext, root: Record<string, unknown>): Settings {
  checkKnownKeys(ctx, root, [], Object.keys(SETTINGS_FIELDS));
  const out: Record<string, unknown> = {};
  for (const [name, fields] of Object.entries(SETTINGS_FIELDS)) {
    const raw = readMap(ctx, root[name], [name]) ?? {};
    out[name] = readSection(ctx, raw, [name], fields as Record<string, Field<unknown>>, { strict: true });
  }
  const settings = out as unknown as Settings;
  const cap = settings.SpendingCap;
  if (cap.Enable && cap.Soft === 0 && cap.Hard === 0 && cap.PerOwnerSoft === 0 && cap.PerOwnerHard === 0) {
    ctx.problems.warn(['SpendingCap', 'Enable'], 'true, but no level is set (Soft, Hard, PerOwnerSoft or PerOwnerHard): it caps nothing');
  }
  return settings;
}
