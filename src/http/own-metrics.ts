/**
 * Metrics of our own, beside the reference's (`metrics.ts`): the event
 * feed's state and what it brought and cost, and the estimated waits. Same
 * prefix; each says in its help text what it counts.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import type { DrainStats } from '../placement/drain.js';
import type { EventFeedView } from '../queue/event-feed-link.js';
import type { MetricsSources } from './metrics.js';

const PREFIX = 'arvados_dispatchcloud_';
const FEED_STATES: ReadonlyArray<EventFeedView['state']> = ['disabled', 'connecting', 'connected', 'unavailable', 'stopped'];

export function registerOwnMetrics(registry: Registry, sources: () => MetricsSources | undefined): void {
  registerEventFeed(registry, sources);
  registerEstimatedWaits(registry, sources);
  registerDrain(registry, sources);
  registerLocality(registry, sources);
  copiedCounter(
    registry,
    sources,
    'fair_share_passes_total',
    'Scheduling passes with fair share on (FairShare.Enable in the settings file), by outcome: reordered (it moved containers of owners below their share ahead of others), unchanged (one owner waiting, or the order was already fair).',
    'outcome',
    ['reordered', 'unchanged'] as const,
    (s) => s.fairShare?.(),
  );
  registerCapacity(registry, sources);
  registerCost(registry, sources);
  copiedCounter(
    registry,
    sources,
    'idle_stretch_total',
    'Idle instances kept past TimeoutIdle to the end of their paid billing period because work that fits them was likely (Billing.StretchIdle in the settings file), by outcome: kept (every one kept), reused (of those, the ones that got a container while kept).',
    'outcome',
    ['kept', 'reused'] as const,
    (s) => s.idleStretch?.(),
  );
  registerReclaims(registry, sources);
  registerSpotFallback(registry, sources);
  registerSpendingCap(registry, sources);
  registerStartBreaker(registry, sources);
}

/** The start breaker: whether new locks are held, how many containers it holds, and the trials. */
function registerStartBreaker(registry: Registry, sources: () => MetricsSources | undefined): void {
  new Gauge({
    name: PREFIX + 'start_breaker_open',
    help: '1 while new locks are held because containers keep going back to the queue without running (StartBreaker in the settings file), else 0.',
    registers: [registry],
    collect() {
      this.set(sources()?.startBreaker?.().open ? 1 : 0);
    },
  });
  new Gauge({
    name: PREFIX + 'start_breaker_held_containers',
    help: 'Queued containers the last scheduling pass did not lock because new locks are held, or because their lock would be their last attempt and no container has run since the start (StartBreaker in the settings file).',
    registers: [registry],
    collect() {
      this.set(sources()?.startBreaker?.().held ?? 0);
    },
  });
  new Counter({
    name: PREFIX + 'start_breaker_trials_total',
    help: 'Containers locked to try them while new locks were held (one every StartBreaker.TryInterval), since the dispatcher started.',
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources()?.startBreaker?.().trials ?? 0);
    },
  });
}

/** Spot reclaims: how many, where, what work went with them, and what the scheduler did about it. */
function registerReclaims(registry: Registry, sources: () => MetricsSources | undefined): void {
  const reclaimed: Counter<'instance_type' | 'zone' | 'preemptible'> = new Counter({
    name: PREFIX + 'instances_reclaimed_total',
    help: 'VMs the provider took back (left the cloud list without a destroy call, or the provider or crunch-run said it was reclaiming them), by instance type, zone and preemptible.',
    labelNames: ['instance_type', 'zone', 'preemptible'],
    registers: [registry],
    collect() {
      reclaimed.reset();
      for (const r of sources()?.reclaims?.().counts.snapshot() ?? []) reclaimed.inc({ instance_type: r.instanceType, zone: r.zone, preemptible: String(r.preemptible) }, r.reclaimed);
    },
  });
  const lost: Counter<'instance_type' | 'zone'> = new Counter({
    name: PREFIX + 'containers_lost_to_reclaims_total',
    help: 'Containers that were running on a VM when the provider took it back (their work is lost; the controller may retry them), by instance type and zone.',
    labelNames: ['instance_type', 'zone'],
    registers: [registry],
    collect() {
      lost.reset();
      for (const r of sources()?.reclaims?.().counts.snapshot() ?? []) lost.inc({ instance_type: r.instanceType, zone: r.zone }, r.containersLost);
    },
  });
  const rate: Gauge<'instance_type'> = new Gauge({
    name: PREFIX + 'instance_type_reclaim_rate',
    help: 'Share of the recent VMs of an instance type that the provider took back (decayed with Reclaims.HalfLife), 0 to 1; what Reclaims.AvoidReclaimedTypes ranks spot types by.',
    labelNames: ['instance_type'],
    registers: [registry],
    collect() {
      rate.reset();
      for (const r of sources()?.reclaims?.().counts.rates() ?? []) rate.set({ instance_type: r.instanceType }, r.rate);
    },
  });
  copiedCounter(
    registry,
    sources,
    'containers_sent_on_demand_total',
    'Preemptible containers run on on-demand types by the Reclaims settings, by reason: reclaims (their request lost work to reclaims OnDemandAfter times), long runtime (expected to run longer than OnDemandAboveRuntime).',
    'reason',
    ['reclaims', 'long runtime'] as const,
    (s) => s.reclaims?.().onDemand,
  );
}

/** Spot fallback (settings `SpotFallback`): preemptible containers run on demand because spot capacity was out. */
function registerSpotFallback(registry: Registry, sources: () => MetricsSources | undefined): void {
  const c: Counter<'instance_type'> = new Counter({
    name: PREFIX + 'spot_fallbacks_total',
    help: 'Containers that asked for preemptible instances and were placed on an on-demand instance because every eligible spot type had been at capacity for SpotFallback.After, by the on-demand instance type.',
    labelNames: ['instance_type'],
    registers: [registry],
    collect() {
      c.reset();
      for (const [type, n] of Object.entries(sources()?.spotFallback?.().byType ?? {})) c.inc({ instance_type: type }, n);
    },
  });
}

/** What the VMs cost: now, per hour, and spent so far by type (`src/cost/ledger.ts`). */
function registerCost(registry: Registry, sources: () => MetricsSources | undefined): void {
  new Gauge({
    name: PREFIX + 'cost_per_hour_dollars',
    help: 'What the VMs alive now cost per hour, in dollars: each at its current price (spot price history where the driver has one, else its configured Price).',
    registers: [registry],
    collect() {
      this.set(sources()?.cost?.().costPerHour() ?? 0);
    },
  });
  const spend: Counter<'instance_type' | 'preemptible'> = new Counter({
    name: PREFIX + 'spend_dollars_total',
    help: 'Dollars the VMs have cost since the dispatcher started, by instance type and preemptible, each VM from its create call until it is gone.',
    labelNames: ['instance_type', 'preemptible'],
    registers: [registry],
    collect() {
      spend.reset();
      for (const t of sources()?.cost?.().spend() ?? []) spend.inc({ instance_type: t.instanceType, preemptible: String(t.preemptible) }, t.dollars);
    },
  });
}

/** The spending cap's levels (0: not set, or the cap is off) and the day's spend forecast beside them. */
function registerSpendingCap(registry: Registry, sources: () => MetricsSources | undefined): void {
  const levels: Gauge<'level'> = new Gauge({
    name: PREFIX + 'spending_cap_dollars_per_hour',
    help: 'The spending cap (settings SpendingCap), dollars per hour, by level: soft (new VMs only preemptible, lower-priority work deferred) and hard (no new VM above it); 0 when not set or off.',
    labelNames: ['level'],
    registers: [registry],
    collect() {
      const v = sources()?.spendingCap?.();
      levels.set({ level: 'soft' }, v?.soft ?? 0);
      levels.set({ level: 'hard' }, v?.hard ?? 0);
    },
  });
  new Gauge({
    name: PREFIX + 'spend_forecast_dollars',
    help: "The day's spend forecast with the spending cap on: dollars spent since the start of the UTC day (or start-up) plus the cost per hour now for the hours left in the day; 0 when off.",
    registers: [registry],
    collect() {
      this.set(sources()?.spendingCap?.().forecastToday ?? 0);
    },
  });
}

/** Warm pools and pre-warming: what they created, and what speculation wasted. */
function registerCapacity(registry: Registry, sources: () => MetricsSources | undefined): void {
  copiedCounter(
    registry,
    sources,
    'instances_created_ahead_total',
    'Instances created before any container asked for them, by a warm pool or by pre-warming for a workflow runner\'s children.',
    'reason',
    ['warm_pool', 'prewarm'] as const,
    (s) => s.capacity?.().created,
  );
  copiedCounter(
    registry,
    sources,
    'prewarm_instances_total',
    'Pre-warmed instances by outcome: used (ran a container) or wasted (shut down without running any).',
    'outcome',
    ['used', 'wasted'] as const,
    (s) => {
      const c = s.capacity?.();
      return c && { used: c.prewarmUsed, wasted: c.prewarmWasted };
    },
  );
  const wasted: Counter<string> = new Counter({
    name: PREFIX + 'prewarm_wasted_cost_dollars_total',
    help: 'What pre-warmed instances that never ran a container cost, in dollars (price per hour x their life).',
    registers: [registry],
    collect() {
      wasted.reset();
      wasted.inc(sources()?.capacity?.().prewarmWastedCost ?? 0);
    },
  });
}

/** Locality at work: how warm the VMs were that containers started on, and how often one was held for a warm VM. */
function registerLocality(registry: Registry, sources: () => MetricsSources | undefined): void {
  copiedCounter(
    registry,
    sources,
    'locality_starts_total',
    'Containers started, by what the VM had of theirs (image, some inputs, none), with settings Locality.Enable (0 when off).',
    'warm',
    ['image', 'inputs', 'none'] as const,
    (s) => s.locality?.().started,
  );
  copiedCounter(
    registry,
    sources,
    'locality_holds_total',
    'Containers held back for a busy VM that has their image or inputs (settings Locality).',
    'kind',
    ['warm_instance'] as const,
    (s) => ({ warm_instance: s.locality?.().holds ?? 0 }),
  );
}

/** A counter by one label whose values are totals kept elsewhere, copied at scrape time (0 for a value `read` lacks). */
export function copiedCounter<V extends string>(
  registry: Registry,
  sources: () => MetricsSources | undefined,
  name: string,
  help: string,
  label: string,
  values: readonly V[],
  read: (s: MetricsSources) => Partial<Record<V, number>> | undefined,
): void {
  const counter: Counter<string> = new Counter({
    name: PREFIX + name,
    help,
    labelNames: [label],
    registers: [registry],
    collect() {
      const s = sources();
      const counts = s && read(s);
      counter.reset();
      for (const v of values) counter.inc({ [label]: v }, counts?.[v] ?? 0);
    },
  });
}

/** A gauge by `state` with one series per state, 1 for the current one (`read`) and 0 for the others. */
export function stateGauge<S extends string>(
  registry: Registry,
  sources: () => MetricsSources | undefined,
  name: string,
  help: string,
  states: readonly S[],
  read: (s: MetricsSources | undefined) => S,
): void {
  const gauge: Gauge<'state'> = new Gauge({
    name: PREFIX + name,
    help,
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const now = read(sources());
      for (const s of states) gauge.set({ state: s }, s === now ? 1 : 0);
    },
  });
}

/**
 * The Arvados event feed (our own: the reference has none): its state (one
 * series per state, 1 for the current one), the messages it brought, and
 * the refreshes its events caused.
 */
export function registerEventFeed(registry: Registry, sources: () => MetricsSources | undefined): void {
  stateGauge(
    registry,
    sources,
    'event_feed_state',
    'State of the subscription to the Arvados event feed, 1 for the current one: disabled (no Services.Websocket.ExternalURL, or EventFeed.Enable false in the settings file), connecting, connected, unavailable (down: dispatching from polls only, retrying), stopped.',
    FEED_STATES,
    (s) => s?.eventFeed?.().state ?? 'disabled',
  );
  copiedCounter(
    registry,
    sources,
    'event_feed_messages_total',
    'Messages from the event feed, by kind: container (an event about a container), other (about another kind of object), garbage (not a usable message: ignored).',
    'kind',
    ['container', 'other', 'garbage'] as const,
    (s) => s.eventFeed?.().status?.events,
  );
  copiedCounter(
    registry,
    sources,
    'event_feed_refreshes_total',
    'What the event feed made the dispatcher do, by kind: refresh (containers read by uuid), poll (a full poll, after each (re)subscription or for a burst of new containers), ignored (events about what the queue already knew), failed (refreshes or polls that failed).',
    'kind',
    ['refresh', 'poll', 'ignored', 'failed'] as const,
    (s) => {
      const h = s.eventFeed?.().hints;
      return h && { refresh: h.refreshes, poll: h.polls, ignored: h.ignored, failed: h.failures };
    },
  );
  copiedCounter(
    registry,
    sources,
    'event_feed_subscriptions_total',
    'Subscriptions to the event feed the server accepted, by kind: first, reconnect (after a drop or a failed attempt), renewal (reconnected at once by the dispatcher: hourly with a new token, or after a check found its token refused or the feed deaf).',
    'kind',
    ['first', 'reconnect', 'renewal'] as const,
    (s) => {
      const st = s.eventFeed?.().status;
      const n = st?.connects ?? 0;
      const renewal = st?.renewals ?? 0;
      return { first: Math.min(1, n), reconnect: Math.max(0, n - 1 - renewal), renewal };
    },
  );
  // A verdict, not a subscription: the reconnect it causes is counted under subscriptions' renewal once the server accepts it.
  const deaf: Counter = new Counter({
    name: PREFIX + 'event_feed_deaf_total',
    help: 'Times the event feed was found connected but deaf, and reconnected: a whole check interval (10 min) connected, with no container event, while polls found at least 3 new containers.',
    registers: [registry],
    collect() {
      deaf.reset();
      deaf.inc(sources()?.eventFeed?.().deaf ?? 0);
    },
  });
  stateGauge(
    registry,
    sources,
    'event_feed_token',
    "The token the event feed connects with, 1 for the current one: own (made for the feed, allowed only to read containers, expiring), root (the SystemRootToken: EventFeed.ScopedToken false, or the controller would not make one), none (no feed, or no token yet). arvados-ws and its proxy log the feed's token.",
    ['none', 'own', 'root'] as const,
    (s) => s?.eventFeed?.().token ?? 'none',
  );
}

/** estimated_wait_seconds{instance_type} (ours): a type seen once stays, at 0 when nothing waits for it. */
export function registerEstimatedWaits(registry: Registry, sources: () => MetricsSources | undefined): void {
  const seen = new Set<string>();
  const g: Gauge<'instance_type'> = new Gauge({
    name: `${PREFIX}estimated_wait_seconds`,
    help: 'Median estimated time until the waiting containers start, by their cheapest eligible instance type (the start-time forecast).',
    labelNames: ['instance_type'],
    registers: [registry],
    collect() {
      const waits = sources()?.estimatedWaits?.() ?? {};
      for (const t of Object.keys(waits)) seen.add(t);
      for (const t of seen) g.set({ instance_type: t }, waits[t] ?? 0);
    },
  });
}

/**
 * Drain to save (ours): how many VMs drain and what that saves once they
 * have emptied, and what it cost in waits. All 0 while it is off.
 */
export function registerDrain(registry: Registry, sources: () => MetricsSources | undefined): void {
  const gauge = (name: string, help: string, read: (d: DrainStats) => number): void => {
    const g: Gauge = new Gauge({
      name: PREFIX + name,
      help,
      registers: [registry],
      collect() {
        const d = sources()?.drain?.();
        g.set(d ? read(d) : 0);
      },
    });
  };
  gauge('drain_instances', 'Instances drain to save marks draining: partly used, their containers would fit on other instances, so new containers go elsewhere.', (d) => d.draining);
  gauge('drain_saving_dollars_per_hour', 'The price per hour of the draining instances: what drain to save saves once they have emptied and shut down.', (d) => d.savingPerHour);
  copiedCounter(
    registry,
    sources,
    'drain_containers_total',
    'Containers drain to save touched, by outcome: took_draining (started on a draining instance, nothing else ready could take it: no wait), waited (waited for a new instance of a type drain had emptied one of shortly before).',
    'outcome',
    ['took_draining', 'waited'] as const,
    (s) => {
      const d = s.drain?.();
      return d && { took_draining: d.tookDraining, waited: d.waited };
    },
  );
}
