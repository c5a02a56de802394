/**
 * The placement features of our own settings file, built for one
 * dispatcher: each is absent when the settings leave it off, so the
 * scheduling pass and the metrics see exactly what is on.
 */
import type { ControllerClient } from '../arvados/client.js';
import type { Clock } from '../clock/index.js';
import type { Settings } from '../config/settings.js';
import type { Cluster } from '../config/types.js';
import type { Estimator } from '../estimate/estimator.js';
import type { MetricsSources } from '../http/metrics.js';
import { type Logger, RateLimitedLog } from '../log.js';
import type { WorkerPoolImpl } from '../worker/pool.js';
import { capacityPlanner, type CapacityPlanner } from './capacity.js';
import { DrainPlanner } from './drain.js';
import { FairSharePass } from './fair-share-pass.js';
import { localityPlanner, type LocalityPlanner } from './locality-planner.js';
import { OwnerResolver } from './owners.js';
import { ParentLookup } from './parents.js';
import { ReclaimPlan } from './reclaim-plan.js';
import { RequestDirectory } from './requests.js';
import type { ReclaimTracker } from './reclaims.js';
import { SpotFallback } from './spot-fallback.js';
import { SpendingCap } from './spending-cap.js';
import type { CostTracker } from '../cost/tracker.js';

export interface PlacementFeatures {
  /** Fair share between submitters (`FairShare`). */
  fairShare?: FairSharePass;
  /** Prefer, and briefly wait for, a VM that has a container's image or inputs (`Locality`). */
  locality?: LocalityPlanner;
  /** Warm pools and pre-warming (`WarmPools`, `PreWarm`). */
  capacity?: CapacityPlanner;
  /** Drain to save (`DrainToSave`). */
  drain?: DrainPlanner;
  /** What the scheduler does with reclaims (`Reclaims`): absent while every rule is off. */
  reclaimPlan?: ReclaimPlan;
  /** Spot fallback (`SpotFallback`). */
  spotFallback?: SpotFallback;
  /** The spending cap (`SpendingCap`). */
  spendingCap?: SpendingCap;
}

export interface PlacementDeps {
  settings: Settings;
  cluster: Cluster;
  client: ControllerClient;
  pool: WorkerPoolImpl;
  estimator: Estimator;
  clock: Clock;
  logger: Logger;
  /** The reclaim counts (always kept). */
  reclaims: ReclaimTracker;
  /** Where the spending cap reads the burn. */
  cost: Pick<CostTracker, 'sync' | 'ledger'>;
  /** Whether a container is in the queue: its container requests are remembered while it is. */
  inQueue?: (uuid: string) => boolean;
}

/** Builds the features the settings turn on; throws when a warm pool names an instance type the cluster lacks. */
export function placementFeatures(d: PlacementDeps): PlacementFeatures {
  const { settings, clock, logger } = d;
  const features: PlacementFeatures = {};
  // One reader of container requests for every feature that needs them (it asks nothing until one reads it).
  let directory: RequestDirectory | undefined;
  const bootMs = (type: string): number => d.estimator.boots.estimate(type).typical;
  const requests = (): RequestDirectory =>
    (directory ??= new RequestDirectory({ client: d.client, clock, logger: logger.child({ Component: 'requests' }), inQueue: d.inQueue }));
  if (settings.FairShare.Enable) {
    const owners = new OwnerResolver({ requests: requests(), clock, logger: logger.child({ Component: 'fair-share' }), by: settings.FairShare.By });
    features.fairShare = new FairSharePass(settings.FairShare, owners, clock);
  }
  if (settings.Locality.Enable) features.locality = localityPlanner(settings.Locality, d.estimator.runtimes, bootMs);
  const capacityLogger = logger.child({ Component: 'capacity' });
  const capacity = capacityPlanner({
    settings,
    cluster: d.cluster,
    pool: d.pool,
    clock,
    logger: capacityLogger,
    bootMs,
    parents: new ParentLookup(requests(), new RateLimitedLog(capacityLogger, clock)),
  });
  if (capacity) features.capacity = capacity;
  if (settings.DrainToSave.Enable) features.drain = new DrainPlanner(settings.DrainToSave);
  const r = settings.Reclaims;
  if (r.AvoidReclaimedTypes || r.OnDemandAfter > 0 || r.OnDemandAboveRuntime > 0) {
    const reclaimLogger = logger.child({ Component: 'reclaims' });
    features.reclaimPlan = new ReclaimPlan({
      settings: r,
      cluster: d.cluster,
      logger: reclaimLogger,
      rates: d.reclaims,
      ...(r.OnDemandAfter > 0 ? { requests: new ParentLookup(requests(), new RateLimitedLog(reclaimLogger, clock), { field: 'uuid', label: 'reclaim escalation' }) } : {}),
      runtimes: d.estimator.runtimes,
    });
  }
  if (settings.SpotFallback.Enable) {
    const pool = d.pool;
    features.spotFallback = new SpotFallback({
      settings: settings.SpotFallback,
      cluster: d.cluster,
      clock,
      capacitySince: (type) => pool.createLimits([type]).capacity[type.Name]?.since,
    });
  }
  if (settings.SpendingCap.Enable) features.spendingCap = spendingCap(d, requests);
  return features;
}

/** The spending cap, with an owner resolver over the shared request directory when a level per owner is set. */
function spendingCap(d: PlacementDeps, requests: () => RequestDirectory): SpendingCap {
  const s = d.settings.SpendingCap;
  const source = {
    fresh: () => {
      d.cost.sync();
      return d.cost.ledger;
    },
  };
  const owners =
    s.PerOwnerHard > 0 || s.PerOwnerSoft > 0
      ? new OwnerResolver({ requests: requests(), clock: d.clock, logger: d.logger.child({ Component: 'spending-cap' }), by: s.PerOwnerBy, label: 'spending cap' })
      : undefined;
  return new SpendingCap(s, source, d.clock, owners);
}

/** The metrics sources of the features that are on. */
export function placementMetrics(f: PlacementFeatures): Pick<MetricsSources, 'fairShare' | 'locality' | 'capacity' | 'drain' | 'spotFallback' | 'spendingCap'> {
  const { fairShare, locality, capacity, drain, spotFallback, spendingCap } = f;
  return {
    ...(spendingCap ? { spendingCap: () => spendingCap.view() } : {}),
    ...(fairShare ? { fairShare: () => fairShare.counts } : {}),
    ...(locality ? { locality: () => locality.counts } : {}),
    ...(capacity ? { capacity: () => capacity.stats } : {}),
    ...(drain ? { drain: () => drain.stats() } : {}),
    ...(spotFallback ? { spotFallback: () => spotFallback.stats() } : {}),
  };
}
