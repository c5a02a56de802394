/**
 * Billing granularity wired into a dispatcher (`createDispatcher`): each
 * configured type's billing rule (the settings' over the driver's), which
 * the cost ledger charges by, and, with `Billing.StretchIdle`, the idle
 * stretcher the pool consults at TimeoutIdle, fed by the arrivals the
 * queue reports. With StretchIdle off, the queue's timeline is handed on
 * untouched and the pool gets no stretcher: the idle path is today's.
 */
import type { Clock } from '../clock/index.js';
import type { Settings } from '../config/settings.js';
import type { Cluster, InstanceType } from '../config/types.js';
import type { InstanceSet } from '../cloud/types.js';
import { ArrivalHistory } from '../estimate/arrivals.js';
import type { QueueTimeline } from '../timeline/sink.js';
import { IdleStretcher } from '../worker/idle-stretch.js';
import { type BillingRule, type BillingRules, resolveBillingRules } from './billing.js';

export interface BillingFeatures {
  /** Each type's rule, by name; a type absent is billed exactly. */
  rules: BillingRules;
  /** The cost ledger's lookup; undefined when no type has a rule (the ledger then does no billing work at all). */
  billingOf: ((instanceType: string) => BillingRule | undefined) | undefined;
  /** Set when `Billing.StretchIdle` is on. */
  stretcher: IdleStretcher | undefined;
  /** What the queue reports to: `timeline`, and the arrival history when stretching is on. */
  queueTimeline: QueueTimeline | undefined;
}

export interface BillingFeaturesOptions {
  settings: Settings['Billing'];
  cluster: Cluster;
  instanceSet: Pick<InstanceSet, 'billingRule'>;
  timeline: QueueTimeline | undefined;
  clock: Clock;
  /** The types a queued container may run on (its queue entry's), once the queue holds it. */
  typesOf: (uuid: string) => readonly InstanceType[] | undefined;
}

export function billingFeatures(opts: BillingFeaturesOptions): BillingFeatures {
  const { settings, instanceSet } = opts;
  const rules = resolveBillingRules(Object.values(opts.cluster.InstanceTypes), settings.InstanceTypes, instanceSet.billingRule && ((t) => instanceSet.billingRule!(t)));
  const billingOf = rules.size > 0 ? (name: string) => rules.get(name) : undefined;
  if (!settings.StretchIdle) return { rules, billingOf, stretcher: undefined, queueTimeline: opts.timeline };
  const arrivals = new ArrivalHistory(settings.ArrivalWindow);
  const stretcher = new IdleStretcher({
    rule: (name) => rules.get(name),
    maxStretchMs: settings.MaxStretch,
    marginMs: settings.StretchMargin,
    likely: (name, withinMs, now) => arrivals.chance(name, withinMs, now) >= settings.MinLikelihood,
  });
  const names = new WeakMap<readonly InstanceType[], string[]>();
  const queueTimeline: QueueTimeline = {
    containerSeen(c) {
      opts.timeline?.containerSeen(c);
      if (c.state !== 'Queued') return;
      const types = opts.typesOf(c.uuid);
      if (!types) return;
      // The queue shares one type list among containers of one shape: name it once.
      let list = names.get(types);
      if (!list) names.set(types, (list = types.map((t) => t.Name)));
      arrivals.record(c.uuid, opts.clock.now(), list);
    },
  };
  return { rules, billingOf, stretcher, queueTimeline };
}
